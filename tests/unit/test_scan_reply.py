"""decode_result: the scan script's replies as typed answers, and any other shape as GarbledReply (a 503
at the gateway), never an exception of another kind."""

from __future__ import annotations

import orjson
import pytest

from checkin.scan.script import AuthRefused, Backlogged, EventUnloaded, GarbledReply, decode_result

ANSWER = orjson.dumps(["checked_out", "", "senior", "V1", "王小明", "燈會志工隊", 95, 3, 1_700_000_000_000])


def test_the_script_replies_decode() -> None:
    answer = decode_result([b"replay", ANSWER, 7])
    assert (answer.verdict, answer.reason, answer.warnings, answer.session_minutes, answer.on_site,
            answer.durable_seq, answer.replay) == ("checked_out", None, ["senior"], 95, 3, 7, True)
    assert decode_result([b"ok", ANSWER, b"12"]).durable_seq == 12
    with pytest.raises(AuthRefused):
        decode_result([b"auth", b"bad_token"])
    with pytest.raises(EventUnloaded):
        decode_result([b"unloaded"])
    with pytest.raises(Backlogged):
        decode_result([b"busy"])


@pytest.mark.parametrize("raw", [
    None, 42, b"OK", [], [b"ok"], [b"ok", ANSWER], [b"maybe", ANSWER, 0], [b"\xff", ANSWER, 0],
    [b"ok", b"{not json", 0], [b"ok", b'{"verdict": "checked_in"}', 0], [b"ok", b'["checked_in"]', 0],
    [b"ok", orjson.dumps([1, "", "", "V1", "n", "t", -1, 1, 1]), 0],
    [b"ok", orjson.dumps(["", "", "", "V1", "n", "t", -1, 1, 1]), 0],
    [b"ok", orjson.dumps(["checked_in", "", "", "V1", "n", "t", "x", 1, 1]), 0],
    [b"ok", orjson.dumps(["checked_in", "", "", "V1", "n", "t", None, 1, 1]), 0],
    [b"ok", ANSWER, b"many"], [b"ok", ANSWER, None], [b"auth"], [b"auth", None],
])
def test_every_other_shape_is_a_garbled_reply(raw: object) -> None:
    with pytest.raises(GarbledReply):
        decode_result(raw)


def test_a_duplicate_carries_the_scan_it_repeats() -> None:
    extra = ["dev-1", "zone-a", 0]
    dup = orjson.dumps(["duplicate", "debounce", "", "V1", "王小明", "隊", -1, 3, 1_700_000_060_000, *extra,
                        1_700_000_000_000, 1])
    answer = decode_result([b"ok", dup, 0])
    assert (answer.last_ms, answer.last_checked_in) == (1_700_000_000_000, True)
    none = orjson.dumps(["duplicate", "not_on_site", "", "V1", "n", "t", -1, 3, 1, *extra, -1, 0])
    assert decode_result([b"ok", none, 0]).last_ms is None
    # An answer stored before these fields (kept 48 h for replays) still decodes, without them.
    assert decode_result([b"replay", ANSWER, 0]).last_ms is None
