"""Every error code the gateway answers with has a Traditional Chinese wording (error_codes.WORDS_ZH), held to
the one table of codes: a code added to STATUS without its wording fails here, not on a clerk's screen."""

from __future__ import annotations

import re

from checkin.error_codes import GENERIC_ZH, STATUS, WORDS_ZH, worded_zh
from checkin.gateway.errors import _HTTP_CODES

CJK = re.compile(r"[\u4e00-\u9fff]")
CATCH_ALLS = {"http_error", "connection_lost", "internal_error"}  # the error middleware's own


def test_every_code_is_worded_in_chinese() -> None:
    codes = set(STATUS) | set(_HTTP_CODES.values()) | CATCH_ALLS
    assert sorted(codes - set(WORDS_ZH)) == []
    assert sorted(set(WORDS_ZH) - codes) == []  # no wording for a code that is never sent
    assert [code for code, words in WORDS_ZH.items() if not CJK.search(words)] == []


def test_a_wrong_field_is_named_and_an_unknown_code_still_worded() -> None:
    assert worded_zh("invalid_field", "scans[2].seq") == "有欄位缺少或內容有誤：scans[2].seq"
    assert worded_zh("invalid_field", None) == WORDS_ZH["invalid_field"]
    assert worded_zh("gate_not_enrolled", "gate_id") == WORDS_ZH["gate_not_enrolled"]  # the code says it all
    assert worded_zh("no_such_code") == GENERIC_ZH
