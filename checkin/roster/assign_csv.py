"""Read a shift-assignment CSV (志工編號, 班別編號: one volunteer and one shift a line), the way the roster
CSV is read: UTF-8, UTF-8 with BOM or Big5, every problem by line and column, the file refused whole.

Pure: whether the volunteers and shifts exist is asked by the caller (roster/assign.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from checkin.roster.csv import MAX_PROBLEMS, Parsed, Problem, read_table

COLUMNS = {"volunteer_id": ("志工編號", "volunteer_id"), "shift_id": ("班別編號", "shift_id")}
_ALIASES = {alias.lower(): canon for canon, aliases in COLUMNS.items() for alias in aliases}
_ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}\Z")


@dataclass(frozen=True)
class Pair:
    line: int
    volunteer_id: str
    shift_id: str


class ParsedPairs(Parsed[Pair]):
    """A shift-assignment file read whole: its rows are the pairs."""


def _header(cells: list[str]) -> tuple[list[str], list[Problem]]:
    columns = [_ALIASES.get(c.strip().lower(), "") for c in cells]
    problems = [Problem(1, raw, "unknown column (志工編號 and 班別編號 are read)", "沒有這個欄位（只讀 志工編號 和 班別編號）")
                for raw, c in zip(cells, columns, strict=True) if not c]
    problems += [Problem(1, COLUMNS[c][0], "required column is missing", "缺少必要欄位") for c in COLUMNS
                 if c not in columns]
    problems += [Problem(1, COLUMNS[c][0], "column appears twice", "欄位重複") for c in COLUMNS if columns.count(c) > 1]
    return columns, problems


def parse_pairs(data: bytes) -> ParsedPairs:
    """Every (volunteer, shift) line of the file; pairs only when there is no problem at all."""
    table = read_table(data, _header)
    columns, problems = table.columns, table.problems
    pairs: list[Pair] = []
    seen: dict[tuple[str, str], int] = {}
    for _, line, cells in table.body:
        if len(cells) != len(columns):
            problems.append(Problem(line, "", f"expected {len(columns)} cells, found {len(cells)}",
                                    f"應有 {len(columns)} 格，這行有 {len(cells)} 格"))
            continue
        values = dict(zip(columns, (c.strip() for c in cells), strict=True))
        bad = [c for c in COLUMNS if not _ID_RE.match(values[c])]
        problems += [Problem(line, COLUMNS[c][0], f"not an id: {values[c]!r}", f"{values[c]!r} 不是編號") for c in bad]
        if bad:
            continue
        key = (values["volunteer_id"], values["shift_id"])
        if key in seen:
            problems.append(Problem(line, "志工編號", f"the same volunteer and shift as line {seen[key]}",
                                    f"與第 {seen[key]} 行的志工和班別相同"))
            continue
        seen[key] = line
        pairs.append(Pair(line, *key))
        if len(problems) >= MAX_PROBLEMS:
            break
    return ParsedPairs([] if problems else pairs, problems, table.encoding, columns)
