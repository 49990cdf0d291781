"""Read a roster CSV (bytes in, rows or problems out) the way office staff save it: UTF-8 or Big5.

Pure and total: any input gives a ParsedRoster, never an exception. A file with any problem is refused
whole, and every problem is listed as (line, column, message) so staff can fix them in one pass.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from checkin.pii import check_national_id

MAX_PROBLEMS = 1_000  # past this a file is clearly not a roster; listing more helps no one
MAX_CELL = 200

# Canonical column name -> accepted header spellings (compared after strip + lower-case).
COLUMNS: dict[str, tuple[str, ...]] = {
    "volunteer_id": ("志工編號", "volunteer_id"),
    "name": ("姓名", "name"),
    "team": ("志工隊", "team"),
    "unit": ("運用單位", "unit"),
    "birth_year": ("出生年", "birth_year"),
    "category": ("類別", "category"),
    "company": ("公司", "company"),
    "record_book_no": ("紀錄冊編號", "record_book_no"),
    "phone": ("電話", "phone"),
    "insured_from": ("保險起日", "insured_from"),
    "insured_to": ("保險迄日", "insured_to"),
    "training_basic": ("基礎訓練", "training_basic"),
    "training_special": ("特殊訓練", "training_special"),
    "team_id": ("志工隊編號", "team_id"),
    "unit_id": ("運用單位編號", "unit_id"),
    "national_id": ("身分證字號", "national_id"),
}
REQUIRED = ("name", "team", "unit")
_HEADER_ALIASES = {alias.lower(): canon for canon, aliases in COLUMNS.items() for alias in aliases}

CATEGORIES = {
    "general": "general", "一般": "general", "youth": "youth", "青年": "youth", "senior": "senior",
    "高齡": "senior", "銀髮": "senior", "corporate": "corporate", "企業": "corporate",
    "family": "family", "家庭": "family",
}
_BOOLEANS = {"是": True, "否": False, "y": True, "n": False, "yes": True, "no": False,
             "true": True, "false": False, "1": True, "0": False, "": False}
_DATE_RE = re.compile(r"^(\d{2,4})[-/.](\d{1,2})[-/.](\d{1,2})$")
_ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,32}$")
_PHONE_RE = re.compile(r"^[0-9+()# -]{3,24}$")


class Problem(NamedTuple):
    line: int
    column: str
    message: str


@dataclass(frozen=True, slots=True)
class RosterRow:
    line: int
    name: str
    team: str
    unit: str
    volunteer_id: str | None = None
    birth_year: int | None = None
    category: str = "general"
    company: str | None = None
    record_book_no: str | None = None
    phone: str | None = None
    insured_from: dt.date | None = None
    insured_to: dt.date | None = None
    training_basic: bool = False
    training_special: bool = False
    team_id: str | None = None
    unit_id: str | None = None
    # plaintext only in memory (encrypted before it is stored), and kept out of reprs, logs and tracebacks
    national_id: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ParsedRoster:
    rows: list[RosterRow]
    problems: list[Problem]
    encoding: str | None = None
    columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class _Bad(ValueError):
    """A cell that does not parse; the message goes to the user as is."""


def parse_date(text: str) -> dt.date:
    """YYYY-MM-DD (or / .) and ROC dates such as 112/02/05 (民國 year + 1911)."""
    match = _DATE_RE.match(text)
    if not match:
        raise _Bad(f"not a date: {text!r} (use 2023-02-05 or 112/02/05)")
    year, month, day = (int(g) for g in match.groups())
    if len(match.group(1)) <= 3:
        year += 1911
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise _Bad(f"not a date: {text!r} ({exc})") from None


def _birth_year(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise _Bad(f"not a year: {text!r}")
    year = int(text)
    if len(text) <= 3:
        year += 1911  # 民國 year
    if not 1900 <= year <= dt.date.today().year:
        raise _Bad(f"birth year {year} is out of range")
    return year


def _bool(text: str) -> bool:
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise _Bad(f"not yes/no: {text!r} (use 是/否, Y/N, true/false or 1/0)")
    return value


def _category(text: str) -> str:
    value = CATEGORIES.get(text.lower() or "general")
    if value is None:
        raise _Bad(f"unknown category {text!r} (一般/青年/高齡/企業/家庭 or the English codes)")
    return value


def _ident(text: str) -> str:
    if not _ID_RE.match(text):
        raise _Bad(f"not an id: {text!r} (letters, digits, - and _ only)")
    return text


def _phone(text: str) -> str:
    if not _PHONE_RE.match(text):
        raise _Bad(f"not a phone number: {text!r}")
    return text


def _national_id(text: str) -> str:
    try:
        return check_national_id(text)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _text(text: str) -> str:
    return text


# How each optional column's non-empty cell is converted; blank cells stay at the row default.
_CONVERT: dict[str, Callable[[str], object]] = {
    "volunteer_id": _ident, "name": _text, "team": _text, "unit": _text, "birth_year": _birth_year,
    "category": _category, "company": _text, "record_book_no": _ident, "phone": _phone,
    "insured_from": parse_date, "insured_to": parse_date, "training_basic": _bool,
    "training_special": _bool, "team_id": _ident, "unit_id": _ident, "national_id": _national_id,
}


def decode(data: bytes) -> tuple[str | None, str | None, list[Problem]]:
    """(text, encoding, problems): UTF-8 with or without BOM first, then Big5 (cp950)."""
    for encoding in ("utf-8-sig", "cp950"):
        try:
            return data.decode(encoding), encoding, []
        except UnicodeDecodeError:
            continue
    problems = [
        Problem(number, "", "bytes are neither UTF-8 nor Big5 (cp950): save the file as UTF-8 CSV")
        for number, raw in enumerate(data.split(b"\n"), start=1)
        if "\ufffd" in raw.decode("cp950", errors="replace")
    ]
    return None, None, problems[:MAX_PROBLEMS]


def _header(cells: list[str]) -> tuple[list[str], list[Problem]]:
    columns, problems = [], []
    for raw in cells:
        canon = _HEADER_ALIASES.get(raw.strip().lower())
        if canon is None:
            problems.append(Problem(1, raw, "unknown column (see docs for the accepted headers)"))
        elif canon in columns:
            problems.append(Problem(1, raw, "column appears twice"))
        columns.append(canon or "")
    missing = [c for c in REQUIRED if c not in columns]
    problems += [Problem(1, COLUMNS[c][0], "required column is missing") for c in missing]
    return columns, problems


def _row(line: int, columns: list[str], cells: list[str], problems: list[Problem]) -> RosterRow | None:
    if len(cells) != len(columns):
        problems.append(Problem(line, "", f"expected {len(columns)} cells, found {len(cells)}"))
        return None
    values: dict[str, object] = {}
    start = len(problems)
    for column, cell in zip(columns, cells, strict=True):
        cell = cell.strip()
        if not cell and column not in ("category", "training_basic", "training_special"):
            continue
        if len(cell) > MAX_CELL:
            problems.append(Problem(line, COLUMNS[column][0], f"longer than {MAX_CELL} characters"))
            continue
        try:
            values[column] = _CONVERT[column](cell)
        except _Bad as exc:
            problems.append(Problem(line, COLUMNS[column][0], str(exc)))
    for column in REQUIRED:
        if column not in values and not any(p.column == COLUMNS[column][0] for p in problems[start:]):
            problems.append(Problem(line, COLUMNS[column][0], "must not be empty"))
    if "volunteer_id" not in values and "record_book_no" not in values:
        message = "needs 志工編號 or 紀錄冊編號 to match the volunteer on re-import"
        problems.append(Problem(line, "紀錄冊編號", message))
    start_date, end_date = values.get("insured_from"), values.get("insured_to")
    if isinstance(start_date, dt.date) and isinstance(end_date, dt.date) and end_date < start_date:
        problems.append(Problem(line, "保險迄日", "insurance ends before it starts"))
    if len(problems) > start:
        return None
    return RosterRow(line=line, **values)  # type: ignore[arg-type]


def _cross_check(rows: list[RosterRow]) -> list[Problem]:
    """What one row cannot tell: the same volunteer twice, a team under two units."""
    problems = []
    seen_ids: dict[str, int] = {}
    seen_books: dict[str, int] = {}
    team_unit: dict[str, tuple[str, int]] = {}
    for row in rows:
        if row.volunteer_id is not None:
            first = seen_ids.setdefault(row.volunteer_id, row.line)
            if first != row.line:
                problems.append(Problem(row.line, "志工編號", f"{row.volunteer_id} already on line {first}"))
        if row.record_book_no is not None:
            first = seen_books.setdefault(row.record_book_no, row.line)
            if first != row.line:
                message = f"{row.record_book_no} already on line {first}"
                problems.append(Problem(row.line, "紀錄冊編號", message))
        unit, first = team_unit.setdefault(row.team, (row.unit, row.line))
        if unit != row.unit:
            message = f"team {row.team} belongs to {unit} on line {first}"
            problems.append(Problem(row.line, "運用單位", message))
    return problems


def parse_roster(data: bytes) -> ParsedRoster:
    """Parse a whole roster file; rows are returned only when there are no problems at all."""
    text, encoding, problems = decode(data)
    if text is None:
        return ParsedRoster([], problems)
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[RosterRow] = []
    columns: list[str] = []
    last_line = 0
    try:
        for cells in reader:
            # a quoted cell may span lines: report where the record starts
            line, last_line = last_line + 1, reader.line_num
            if not columns:
                if not any(c.strip() for c in cells):
                    continue
                columns, problems = _header(cells)
                if problems:
                    return ParsedRoster([], problems, encoding)
                continue
            if not any(c.strip() for c in cells):
                continue  # blank lines are common at the end of spreadsheet exports
            row = _row(line, columns, cells, problems)
            if row is not None:
                rows.append(row)
            if len(problems) >= MAX_PROBLEMS:
                problems.append(Problem(line, "", "too many problems; stopped reading here"))
                return ParsedRoster([], problems, encoding, columns)
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, "", f"not a readable CSV: {exc}"))
    if not columns and not problems:
        problems.append(Problem(1, "", "the file is empty: expected a header line"))
    problems += _cross_check(rows)
    return ParsedRoster([] if problems else rows, problems, encoding, columns)
