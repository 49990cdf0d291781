"""What reading a scan's body costs, in CPU µs per decode: the hand parser the gateway had (orjson, then
field-by-field checks; kept here as the baseline) against scan_request.parse_scan (msgspec into ScanBody,
then the checks JSON Schema cannot state). Both take the body's bytes and give the same ScanRequest.

Run: python -m loadtest.request_decode_cost [N]   (prints the median of 5 runs of N decodes each)
"""

from __future__ import annotations

import re
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import orjson

from checkin.gateway.errors import ApiError
from checkin.gateway.scan_request import ScanRequest, parse_batch, parse_scan

BODY = orjson.dumps({"scan_id": "1b4e28ba-2fa1-4d3b-883f-0016d3cca427",
                     "card": "VC1.K4DL7M.HBGJKPI6.T2GAVWTN" + "A" * 86, "gate_id": "north-in",
                     "scanned_at": "2023-02-05T18:03:12.345+08:00", "seq": 42, "mode": "entry"})
BATCH = orjson.dumps({"scans": [orjson.loads(BODY)] * 100})

_GATE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", message, field)


def hand_parse(body: Any, where: str = "") -> ScanRequest:
    """The gateway's scan parser before msgspec (scan_request.py at 6a3a954), for comparison."""
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "a scan must be a JSON object", where or None)
    scan_id = body.get("scan_id")
    if not isinstance(scan_id, str):
        raise _bad(where + "scan_id", "scan_id is required: a UUID made on the device")
    if not _CANONICAL_UUID.match(scan_id):
        try:
            scan_id = str(uuid.UUID(scan_id))
        except ValueError:
            raise _bad(where + "scan_id", "scan_id must be a UUID") from None
    card = body.get("card")
    if not isinstance(card, str) or not card or len(card) > 512:
        raise _bad(where + "card", "card is required")
    gate_id = body.get("gate_id")
    if not isinstance(gate_id, str) or not _GATE_RE.match(gate_id):
        raise _bad(where + "gate_id", "gate_id is required")
    scanned_at = body.get("scanned_at")
    if not isinstance(scanned_at, str) or len(scanned_at) > 64:
        raise _bad(where + "scanned_at", "scanned_at is required")
    try:
        moment = datetime.fromisoformat(scanned_at)
    except ValueError:
        raise _bad(where + "scanned_at", "scanned_at must be RFC 3339") from None
    if moment.tzinfo is None or not 2000 <= moment.year <= 2200:
        raise _bad(where + "scanned_at", "scanned_at needs an offset and a year 2000-2200")
    seq = body.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq < 2**53:
        raise _bad(where + "seq", "seq is required")
    mode = body.get("mode", "auto_gate")
    if mode == "auto_gate" or mode is None:
        mode = ""
    elif mode not in ("entry", "exit", "auto"):
        raise _bad(where + "mode", "mode must be entry, exit or auto")
    return ScanRequest(scan_id, card, gate_id, int(moment.timestamp() * 1000), seq, mode)


def _hand_batch() -> None:
    for item in orjson.loads(BATCH)["scans"]:
        hand_parse(item)


def _model_batch() -> None:
    parse_batch(BATCH)


def _per_call(n: int, call: Callable[[], object]) -> float:
    runs = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(n):
            call()
        runs.append((time.process_time() - started) / n * 1e6)
    return statistics.median(runs)


def main(n: int) -> None:
    assert hand_parse(orjson.loads(BODY)) == parse_scan(BODY), "the two parsers disagree"
    cases = [("one scan (POST /api/v1/scans)", lambda: hand_parse(orjson.loads(BODY)), lambda: parse_scan(BODY)),
             ("a batch of 100, per scan", _hand_batch, _model_batch)]
    print(f"{'body':34} {'hand parser µs':>15} {'msgspec µs':>11}")
    for name, hand, model in cases:
        per = 100 if "batch" in name else 1
        runs = max(1, n // per)
        print(f"{name:34} {_per_call(runs, hand) / per:15.2f} {_per_call(runs, model) / per:11.2f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
