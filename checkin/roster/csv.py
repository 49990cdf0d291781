"""Read a roster CSV (bytes in, rows or problems out) the way office staff save it: UTF-8 or Big5.

Pure and total: any input gives a ParsedRoster, never an exception. A file with any problem is refused
whole, and every problem is listed as (line, column, message) so staff can fix them in one pass.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

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
_DATE_RE = re.compile(r"^(\d{2,4})[-/.](\d{1,2})[-/.](\d{1,2})\Z")
_ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,32}\Z")
_PHONE_RE = re.compile(r"^[0-9+()# -]{3,24}\Z")


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: str
    message: str
    # The same in Traditional Chinese, for the console's roster page; a wording, so not part of what the
    # problem is (two problems are equal by line, column and message).
    zh: str = field(default="", compare=False)


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


Row = TypeVar("Row")


@dataclass(frozen=True)
class Parsed(Generic[Row]):
    """A CSV file read whole (the roster, or shift assignments): rows only when there is no problem at all."""

    rows: list[Row]
    problems: list[Problem]
    encoding: str | None = None
    columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


class ParsedRoster(Parsed[RosterRow]):
    """A roster file read whole."""


class _Bad(ValueError):
    """A cell that does not parse; the message (and its Chinese wording) goes to the user as is."""

    def __init__(self, message: str, zh: str) -> None:
        super().__init__(message)
        self.zh = zh


def parse_date(text: str) -> dt.date:
    """YYYY-MM-DD (or / .) and ROC dates such as 112/02/05 (民國 year + 1911)."""
    match = _DATE_RE.match(text)
    if not match:
        raise _Bad(f"not a date: {text!r} (use 2023-02-05 or 112/02/05)", f"{text!r} 不是日期（請寫 2023-02-05 或民國 112/02/05）")
    year, month, day = (int(g) for g in match.groups())
    if len(match.group(1)) <= 3:
        year += 1911
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise _Bad(f"not a date: {text!r} ({exc})", f"{text!r} 不是存在的日期") from None


def _birth_year(text: str) -> int:
    if not text.isdigit() or not text.isascii():
        raise _Bad(f"not a year: {text!r}", f"{text!r} 不是年份")
    year = int(text)
    if len(text) <= 3:
        year += 1911  # 民國 year
    if not 1900 <= year <= dt.date.today().year:
        raise _Bad(f"birth year {year} is out of range", f"出生年 {year} 超出範圍")
    return year


def _bool(text: str) -> bool:
    value = _BOOLEANS.get(text.lower())
    if value is None:
        raise _Bad(f"not yes/no: {text!r} (use 是/否, Y/N, true/false or 1/0)",
                   f"{text!r} 不是「是／否」（請寫 是/否、Y/N、true/false 或 1/0）")
    return value


def _category(text: str) -> str:
    value = CATEGORIES.get(text.lower() or "general")
    if value is None:
        raise _Bad(f"unknown category {text!r} (一般/青年/高齡/企業/家庭 or the English codes)",
                   f"沒有 {text!r} 這個類別（一般/青年/高齡/企業/家庭 或英文代碼）")
    return value


def _ident(text: str) -> str:
    if not _ID_RE.match(text):
        raise _Bad(f"not an id: {text!r} (letters, digits, - and _ only)", f"{text!r} 不是編號（只能有英文字母、數字、- 和 _）")
    return text


def _phone(text: str) -> str:
    if not _PHONE_RE.match(text):
        raise _Bad(f"not a phone number: {text!r}", f"{text!r} 不是電話號碼")
    return text


def _national_id(text: str) -> str:
    try:
        return check_national_id(text)
    except ValueError as exc:
        raise _Bad(str(exc), "身分證字號不正確（一個英文字母加 9 個數字，檢查碼須相符）：請核對是否打錯") from None


# Invisible controls that reorder the text around them: a name starting with U+202E shows reversed on
# the gate's screen and in the office's lists. No name or team needs one, so the import refuses them.
BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def without_bidi_controls(text: str) -> str:
    """The text with its direction controls removed: for names stored before the import refused them."""
    return "".join(c for c in text if c not in BIDI_CONTROLS) if not BIDI_CONTROLS.isdisjoint(text) else text


def _text(text: str) -> str:
    for c in text:
        if c in BIDI_CONTROLS:
            raise _Bad(f"holds an invisible text-direction control (U+{ord(c):04X}): remove it",
                       f"含有看不見的文字方向控制字元（U+{ord(c):04X}），請刪除")
        if unicodedata.category(c) == "Cc":
            raise _Bad(f"holds a control character (U+{ord(c):04X}): remove it", f"含有控制字元（U+{ord(c):04X}），請刪除")
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
        Problem(number, "", "bytes are neither UTF-8 nor Big5 (cp950): save the file as UTF-8 CSV",
                "內容不是 UTF-8 也不是 Big5（cp950）：請另存為 UTF-8 的 CSV")
        for number, raw in enumerate(data.split(b"\n"), start=1)
        if "\ufffd" in raw.decode("cp950", errors="replace")
    ]
    return None, None, problems[:MAX_PROBLEMS]


Record = tuple[int, int, list[str]]  # (first line, last line, cells): a quoted cell may span lines


def records(text: str, problems: list[Problem]) -> Iterator[Record]:
    """The non-blank records of a CSV text. An unreadable CSV ends them and an empty file has none;
    either adds its problem to `problems`."""
    reader = csv.reader(io.StringIO(text, newline=""))
    last_line = 0
    found = False
    try:
        for cells in reader:
            line, last_line = last_line + 1, reader.line_num
            if any(c.strip() for c in cells):  # blank lines are common at the end of spreadsheet exports
                found = True
                yield line, last_line, cells
    except csv.Error as exc:
        problems.append(Problem(reader.line_num, "", f"not a readable CSV: {exc}", f"無法讀取的 CSV：{exc}"))
        return
    if not found:
        problems.append(Problem(1, "", "the file is empty: expected a header line", "檔案是空的：第一行應是欄位名稱"))


@dataclass(frozen=True)
class Table:
    """A CSV file opened past its header line: the body's records, and the list their problems join."""

    encoding: str | None
    columns: list[str]
    problems: list[Problem]
    body: Iterator[Record]


Header = Callable[[list[str]], tuple[list[str], list[Problem]]]


def read_table(data: bytes, header: Header) -> Table:
    """Decode the bytes and read the header with `header`; a file that fails either has no body."""
    text, encoding, problems = decode(data)
    if text is None:
        return Table(None, [], problems, iter(()))
    body = records(text, problems)
    first = next(body, None)
    if first is None:
        return Table(encoding, [], problems, iter(()))
    columns, refused = header(first[2])
    if refused:
        return Table(encoding, [], refused, iter(()))
    return Table(encoding, columns, problems, body)


def _header(cells: list[str]) -> tuple[list[str], list[Problem]]:
    columns, problems = [], []
    for raw in cells:
        canon = _HEADER_ALIASES.get(raw.strip().lower())
        if canon is None:
            problems.append(Problem(1, raw, "unknown column (see docs for the accepted headers)",
                                    "沒有這個欄位（可用的欄位名稱見說明文件）"))
        elif canon in columns:
            problems.append(Problem(1, raw, "column appears twice", "欄位重複"))
        columns.append(canon or "")
    missing = [c for c in REQUIRED if c not in columns]
    problems += [Problem(1, COLUMNS[c][0], "required column is missing", "缺少必要欄位") for c in missing]
    return columns, problems


def _row(line: int, columns: list[str], cells: list[str], problems: list[Problem]) -> RosterRow | None:
    if len(cells) != len(columns):
        problems.append(Problem(line, "", f"expected {len(columns)} cells, found {len(cells)}",
                                f"應有 {len(columns)} 格，這行有 {len(cells)} 格"))
        return None
    values: dict[str, object] = {}
    start = len(problems)
    for column, cell in zip(columns, cells, strict=True):
        cell = cell.strip()
        if not cell and column not in ("category", "training_basic", "training_special"):
            continue
        if len(cell) > MAX_CELL:
            problems.append(Problem(line, COLUMNS[column][0], f"longer than {MAX_CELL} characters",
                                    f"超過 {MAX_CELL} 個字"))
            continue
        try:
            values[column] = _CONVERT[column](cell)
        except _Bad as exc:
            problems.append(Problem(line, COLUMNS[column][0], str(exc), exc.zh))
    for column in REQUIRED:
        if column not in values and not any(p.column == COLUMNS[column][0] for p in problems[start:]):
            problems.append(Problem(line, COLUMNS[column][0], "must not be empty", "不可空白"))
    if "volunteer_id" not in values and "record_book_no" not in values:
        message = "needs 志工編號 or 紀錄冊編號 to match the volunteer on re-import"
        problems.append(Problem(line, "紀錄冊編號", message, "須有志工編號或紀錄冊編號，再次匯入時才對得到同一位志工"))
    start_date, end_date = values.get("insured_from"), values.get("insured_to")
    if isinstance(start_date, dt.date) and isinstance(end_date, dt.date) and end_date < start_date:
        problems.append(Problem(line, "保險迄日", "insurance ends before it starts", "保險迄日早於起日"))
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
                problems.append(Problem(row.line, "志工編號", f"{row.volunteer_id} already on line {first}",
                                        f"{row.volunteer_id} 已在第 {first} 行"))
        if row.record_book_no is not None:
            first = seen_books.setdefault(row.record_book_no, row.line)
            if first != row.line:
                message = f"{row.record_book_no} already on line {first}"
                problems.append(Problem(row.line, "紀錄冊編號", message, f"{row.record_book_no} 已在第 {first} 行"))
        unit, first = team_unit.setdefault(row.team, (row.unit, row.line))
        if unit != row.unit:
            message = f"team {row.team} belongs to {unit} on line {first}"
            problems.append(Problem(row.line, "運用單位", message, f"志工隊 {row.team} 在第 {first} 行屬於 {unit}"))
    return problems


def parse_roster(data: bytes) -> ParsedRoster:
    """Parse a whole roster file; rows are returned only when there are no problems at all."""
    table = read_table(data, _header)
    rows: list[RosterRow] = []
    problems = table.problems
    for line, _, cells in table.body:
        row = _row(line, table.columns, cells, problems)
        if row is not None:
            rows.append(row)
        if len(problems) >= MAX_PROBLEMS:
            problems.append(Problem(line, "", "too many problems; stopped reading here", "問題太多，讀到這裡為止"))
            return ParsedRoster([], problems, table.encoding, table.columns)
    problems += _cross_check(rows)
    return ParsedRoster([] if problems else rows, problems, table.encoding, table.columns)
