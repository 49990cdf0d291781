"""The shift-assignment CSV (志工編號, 班別編號): read like the roster, refused whole with every problem."""

from __future__ import annotations

from checkin.roster.assign_csv import Pair, parse_pairs
from checkin.roster.csv import Problem


def test_big5_and_english_headers_give_the_pairs_in_order() -> None:
    big5 = parse_pairs("志工編號,班別編號\r\nV000001,s-day\r\n\r\nV000002,s-night\r\n".encode("cp950"))
    english = parse_pairs(b"\xef\xbb\xbfshift_id,volunteer_id\nS1,V9\n")
    assert big5.ok and big5.encoding == "cp950" and english.encoding == "utf-8-sig"
    assert big5.rows == [Pair(2, "V000001", "s-day"), Pair(4, "V000002", "s-night")]
    assert english.rows == [Pair(2, "V9", "S1")]


def test_every_bad_line_is_named_and_the_file_is_refused() -> None:
    parsed = parse_pairs("志工編號,班別編號\nV1,s1\nV 2,s1\nV3\nV1,s1\n,s2\n".encode())
    assert not parsed.ok and parsed.rows == []
    assert parsed.problems == [
        Problem(3, "志工編號", "not an id: 'V 2'"),
        Problem(4, "", "expected 2 cells, found 1"),
        Problem(5, "志工編號", "the same volunteer and shift as line 2"),
        Problem(6, "志工編號", "not an id: ''"),
    ]


def test_header_and_encoding_problems() -> None:
    assert parse_pairs("志工編號,姓名\nV1,王\n".encode()).problems == [
        Problem(1, "姓名", "unknown column (志工編號 and 班別編號 are read)"),
        Problem(1, "班別編號", "required column is missing")]
    assert parse_pairs(b"").problems == [Problem(1, "", "the file is empty: expected a header line")]
    assert parse_pairs(b"\xff\xfe\xfa\n").problems[0].message.startswith("bytes are neither UTF-8 nor Big5")
