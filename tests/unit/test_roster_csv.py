"""Roster CSV parsing: encodings, both header languages, ROC dates, and whole-file refusal."""

from __future__ import annotations

import datetime as dt
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from checkin.roster.csv import ParsedRoster, Problem, parse_date, parse_roster
from checkin.roster.synth import generate_roster, roster_csv_rows

HEADER_ZH = "志工編號,姓名,志工隊,運用單位,出生年,類別,公司,紀錄冊編號,電話,保險起日,保險迄日,基礎訓練,特殊訓練"
HEADER_EN = ("volunteer_id,name,team,unit,birth_year,category,company,record_book_no,phone,"
             "insured_from,insured_to,training_basic,training_special")
GOOD = "V000001,陳淑芬,大安區公所志工隊,臺北市大安區公所,1950,高齡,,1120000001,0912345678,112/01/01,112/12/31,是,否"


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def test_chinese_headers_and_roc_dates() -> None:
    parsed = parse_roster(csv_bytes(HEADER_ZH, GOOD))
    assert parsed.ok, parsed.problems
    (row,) = parsed.rows
    assert (row.volunteer_id, row.name, row.team, row.unit) == ("V000001", "陳淑芬", "大安區公所志工隊", "臺北市大安區公所")
    assert row.birth_year == 1950 and row.category == "senior" and row.company is None
    assert row.insured_from == dt.date(2023, 1, 1) and row.insured_to == dt.date(2023, 12, 31)
    assert row.training_basic is True and row.training_special is False
    assert row.line == 2


def test_english_headers_iso_dates_and_other_booleans() -> None:
    line = "V9,Lin,T,U,1990,corporate,ACME,,02-2720-8889,2023-02-05,2024-02-04,Y,true"
    parsed = parse_roster(csv_bytes(HEADER_EN, line))
    assert parsed.ok, parsed.problems
    row = parsed.rows[0]
    assert row.category == "corporate" and row.company == "ACME" and row.record_book_no is None
    assert row.insured_from == dt.date(2023, 2, 5) and row.training_basic and row.training_special


def test_optional_columns_may_be_left_out() -> None:
    parsed = parse_roster(csv_bytes("姓名,志工隊,運用單位,紀錄冊編號", "王小明,A隊,社會局,R1"))
    assert parsed.ok
    row = parsed.rows[0]
    assert row.volunteer_id is None and row.category == "general" and row.training_basic is False


def test_utf8_with_bom_and_cp950_give_the_same_rows() -> None:
    utf8 = parse_roster(b"\xef\xbb\xbf" + csv_bytes(HEADER_ZH, GOOD))
    big5 = parse_roster(csv_bytes(HEADER_ZH, GOOD, encoding="cp950"))
    assert utf8.encoding == "utf-8-sig" and big5.encoding == "cp950"
    assert utf8.ok and big5.ok
    assert utf8.rows == big5.rows


def test_synthetic_roster_round_trips_through_cp950() -> None:
    roster = generate_roster(2_000, seed=5)
    data = "\r\n".join(",".join(r) for r in roster_csv_rows(roster)).encode("cp950")
    parsed = parse_roster(data)
    assert parsed.ok, parsed.problems[:5]
    team_name = {t.team_id: t.name for t in roster.teams}
    for volunteer, row in zip(roster.volunteers, parsed.rows, strict=True):
        assert row.volunteer_id == volunteer.volunteer_id and row.name == volunteer.name
        assert row.team == team_name[volunteer.team_id]
        assert (row.birth_year, row.category, row.company) == (volunteer.birth_year, volunteer.category,
                                                                volunteer.company)
        assert (row.insured_from, row.insured_to) == (volunteer.insured_from, volunteer.insured_to)
        assert (row.training_basic, row.training_special) == (volunteer.training_basic, volunteer.training_special)


def test_three_bad_lines_are_all_named_and_the_file_is_refused() -> None:
    lines = [HEADER_ZH] + [GOOD.replace("V000001", f"V{i:06d}").replace("1120000001", f"R{i}") for i in range(1, 9)]
    lines[2] = lines[2].replace("1950", "一九五〇")  # line 3
    lines[5] = lines[5].replace("112/12/31", "112/13/31")  # line 6
    lines[7] = lines[7].replace(",是,否", ",也許,否")  # line 8
    parsed = parse_roster(csv_bytes(*lines))
    assert not parsed.ok and parsed.rows == []
    assert [(p.line, p.column) for p in parsed.problems] == [(3, "出生年"), (6, "保險迄日"), (8, "基礎訓練")]


def test_several_problems_on_one_line_and_missing_required() -> None:
    parsed = parse_roster(csv_bytes(HEADER_ZH, ",,大安區公所志工隊,臺北市大安區公所,,怪,,,abc,112/02/30,,,"))
    columns = {p.column for p in parsed.problems}
    assert {"姓名", "類別", "電話", "保險起日", "紀錄冊編號"} <= columns
    assert all(p.line == 2 for p in parsed.problems)


def test_header_problems() -> None:
    parsed = parse_roster(csv_bytes("姓名,志工隊,備註,姓名", "a,b,c,d"))
    messages = {(p.column, p.message) for p in parsed.problems}
    assert ("備註", "unknown column (see docs for the accepted headers)") in messages
    assert ("姓名", "column appears twice") in messages
    assert ("運用單位", "required column is missing") in messages


def test_duplicates_and_team_in_two_units() -> None:
    other = GOOD.replace("臺北市大安區公所", "臺北市政府社會局").replace("V000001", "V000002")
    parsed = parse_roster(csv_bytes(HEADER_ZH, GOOD, GOOD, other))
    assert (3, "志工編號") in {(p.line, p.column) for p in parsed.problems}
    assert (3, "紀錄冊編號") in {(p.line, p.column) for p in parsed.problems}
    assert (4, "運用單位") in {(p.line, p.column) for p in parsed.problems}


def test_wrong_cell_count_and_undecodable_bytes() -> None:
    assert parse_roster(csv_bytes(HEADER_ZH, GOOD + ",extra")).problems == [
        Problem(2, "", "expected 13 cells, found 14")
    ]
    garbage = parse_roster(b"\xff\xfe\x81\n\x80\x80")
    assert garbage.encoding is None and [p.line for p in garbage.problems] == [1, 2]
    assert not parse_roster(b"").ok


def test_parse_date_forms() -> None:
    assert parse_date("112/02/05") == dt.date(2023, 2, 5)
    assert parse_date("99.1.9") == dt.date(2010, 1, 9)
    assert parse_date("2023-02-05") == dt.date(2023, 2, 5)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    parsed = parse_roster(data)
    assert isinstance(parsed, ParsedRoster)
    assert parsed.ok == (parsed.problems == [])
    assert parsed.ok or parsed.rows == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=30), min_size=1, max_size=13))
def test_arbitrary_cells_under_a_good_header_never_raise(cells: list[str]) -> None:
    line = ",".join('"' + c.replace('"', '""') + '"' for c in cells)
    parsed = parse_roster(csv_bytes(HEADER_ZH, line))
    assert parsed.ok or parsed.rows == []
    assert all(isinstance(p.line, int) and p.line >= 1 for p in parsed.problems)


CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_problem_is_worded_in_traditional_chinese_too() -> None:
    # The console's roster page shows the Chinese wording: no problem may come without one.
    files = [
        csv_bytes(HEADER_ZH, GOOD.replace("1950", "一九五〇").replace("112/12/31", "112/13/31").replace(",是,否", ",也許,否")),
        csv_bytes(HEADER_ZH, ",,大安區公所志工隊,臺北市大安區公所,1850,怪,,V 1,abc,112/02/30,,,"),
        csv_bytes(HEADER_ZH, "V1,陳\u202e淑芬,T,U,1950,,,,,2023-02-05,2023-01-01,,"),
        csv_bytes("姓名,志工隊,備註,姓名", "a,b,c,d"),
        csv_bytes(HEADER_ZH, GOOD, GOOD, GOOD.replace("臺北市大安區公所", "臺北市政府社會局").replace("V000001", "V000002")),
        csv_bytes(HEADER_ZH, GOOD + ",extra"),
        csv_bytes("志工編號,姓名,志工隊,運用單位,身分證字號", "V1,陳淑芬,T,U,A123456788"),
        b"\xff\xfe\x81\n\x80\x80",
        b"",
    ]
    problems = [p for data in files for p in parse_roster(data).problems]
    assert len(problems) >= 20
    assert [p for p in problems if not CJK.search(p.zh)] == []
    by_message = {p.message: p.zh for p in problems}
    assert by_message["insurance ends before it starts"] == "保險迄日早於起日"
    assert by_message["expected 13 cells, found 14"] == "應有 13 格，這行有 14 格"
