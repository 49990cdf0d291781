"""National IDs: the format and check digit, AES-GCM round trip and tamper detection, the mask, the key file."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from checkin import pii
from checkin.roster.csv import Problem, parse_roster

VALID = "A123456789"  # the textbook example: its check digit is right
INVALID = "A123456788"  # one digit off


def test_a_known_valid_id_passes_and_is_upper_cased() -> None:
    assert pii.check_national_id(VALID) == VALID
    assert pii.check_national_id(" a123456789 ") == VALID
    assert pii.check_national_id("F231540475") == "F231540475"  # a female ID, another letter code


@pytest.mark.parametrize("bad", [INVALID, "A12345678", "A1234567890", "1123456789", "AB23456789",
                                 "A323456789", "A12345678X", ""])
def test_a_bad_id_is_refused_without_echoing_it_whole(bad: str) -> None:
    with pytest.raises(ValueError) as refused:
        pii.check_national_id(bad)
    assert not bad or bad not in str(refused.value)


def test_mask_shows_three_and_three() -> None:
    assert pii.mask(VALID) == "A12****789"
    assert pii.mask("abc") == "***"


def test_round_trip_with_a_random_nonce() -> None:
    key = bytes(range(32))
    first, second = pii.encrypt(key, VALID, "V1"), pii.encrypt(key, VALID, "V1")
    assert first != second and VALID.encode() not in first
    assert pii.decrypt(key, first, "V1") == VALID == pii.decrypt(key, second, "V1")


def test_tampering_moving_or_another_key_is_detected() -> None:
    key = bytes(range(32))
    blob = pii.encrypt(key, VALID, "V1")
    for i in (0, 1, 13, len(blob) - 1):  # version, nonce, ciphertext, tag
        flipped = bytearray(blob)
        flipped[i] ^= 1
        with pytest.raises(pii.DecryptError):
            pii.decrypt(key, bytes(flipped), "V1")
    with pytest.raises(pii.DecryptError):
        pii.decrypt(key, blob, "V2")  # copied onto another volunteer's row
    with pytest.raises(pii.DecryptError):
        pii.decrypt(bytes(32), blob, "V1")
    with pytest.raises(pii.DecryptError):
        pii.decrypt(key, blob[:10], "V1")


def test_key_file_is_created_owner_only_once(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "pii.key"
    key = pii.load_or_create_key(path)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert pii.load_or_create_key(path) == key
    path.write_bytes(b"short")
    with pytest.raises(ValueError):
        pii.load_or_create_key(path)


def test_roster_column_is_checked_at_its_line_and_kept_out_of_reprs() -> None:
    head = "姓名,志工隊,運用單位,紀錄冊編號,身分證字號"
    bad = parse_roster(f"{head}\n王小明,A隊,社會局,R1,{VALID}\n李大華,A隊,社會局,R2,{INVALID}\n".encode())
    assert bad.problems == [Problem(3, "身分證字號", "national ID 'A12****788' fails its check digit: a typo?")]
    good = parse_roster(f"national_id,name,team,unit,record_book_no\n{VALID.lower()},王小明,A隊,社會局,R1\n"
                        ",李大華,A隊,社會局,R2\n".encode())
    assert good.ok and [r.national_id for r in good.rows] == [VALID, None]
    assert VALID not in repr(good.rows)
