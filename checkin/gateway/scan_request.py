"""The scan request body: decoded by msgspec into models.scans.ScanBody (types and bounds), then the checks
JSON Schema cannot state exactly. Pure, no I/O; `python -m loadtest.request_decode_cost` measures it."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import msgspec
import orjson

from checkin.gateway.api_error import ApiError
from checkin.gateway.decoding import decode_model
from checkin.gateway.models.scans import MAX_BATCH, BatchBody, BatchSchema, ScanBody

_GATE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}\Z")
# str(uuid.UUID(x)) == x for exactly these, so they skip the parse (2 µs a scan).
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
# What each field is, said when it is missing or wrong (the kiosk's log and a developer read these).
HINTS = {
    "scan_id": "scan_id is required: a UUID made on the device",
    "card": "card is required: the QR text, at most 512 characters",
    "gate_id": "gate_id is required: 1-64 letters, digits, '-' or '_'",
    "scanned_at": "scanned_at is required: RFC 3339 with a UTC offset, e.g. 2023-02-05T18:00:00+08:00",
    "seq": "seq is required: the device's own increasing number, starting at 1",
    "mode": "mode must be entry, exit or auto",
}


@dataclass(frozen=True)
class ScanRequest:
    scan_id: str
    card: str
    gate_id: str
    scanned_ms: int
    seq: int
    mode: str  # "" for the gate's own mode


def _bad(field: str, message: str) -> ApiError:
    return ApiError(400, "invalid_field", message, field)


_SCAN = msgspec.json.Decoder(ScanBody)


def _decode(raw: bytes | msgspec.Raw, where: str) -> ScanBody:
    try:
        return _SCAN.decode(raw)  # the common case without decode_model's lookup: this is the scan path
    except (msgspec.DecodeError, RecursionError):
        pass
    try:
        return decode_model(raw, ScanBody, where=where, not_object="invalid_body")  # to say what is wrong
    except ApiError as err:
        if err.code == "invalid_body":
            err.message = "a scan must be a JSON object"
        elif err.field is not None:
            err.message = HINTS.get(err.field[len(where):], err.message)
        raise


def parse_scan(raw: bytes | msgspec.Raw, where: str = "") -> ScanRequest:
    """Decode and check one scan; raise ApiError naming the first bad field."""
    return _checked(_decode(raw, where), where)


def _checked(body: ScanBody, where: str) -> ScanRequest:
    scan_id = body.scan_id
    if not _CANONICAL_UUID.match(scan_id):  # kiosks send the canonical form; others are normalised to it
        try:
            scan_id = str(uuid.UUID(scan_id))
        except ValueError:
            raise _bad(where + "scan_id", "scan_id must be a UUID") from None
    if not _GATE_RE.match(body.gate_id):
        raise _bad(where + "gate_id", HINTS["gate_id"])
    moment = body.scanned_at  # RFC 3339 with an offset, parsed by msgspec
    if not 2000 <= moment.year <= 2200:
        raise _bad(where + "scanned_at", "scanned_at is out of range")
    mode = body.mode_
    return ScanRequest(scan_id, body.card, body.gate_id, int(moment.timestamp() * 1000), body.seq,
                       "" if mode is None or mode == "auto_gate" else mode)


@dataclass(frozen=True)
class ItemRefused:
    """A batch item refused alone; the others are still decided."""

    scan_id: str | None
    error: ApiError


_WHOLE_BATCH = msgspec.json.Decoder(BatchSchema)


def parse_batch(raw: bytes) -> list[ScanRequest | ItemRefused]:
    """Each item of a batch, checked or refused on its own, in the batch's order."""
    try:
        bodies: list[ScanBody] = _WHOLE_BATCH.decode(raw).scans  # every item well-formed: one decode
        return [_item(body, i) for i, body in enumerate(bodies)]
    except (msgspec.DecodeError, RecursionError):
        pass  # some item (or the batch itself) is wrong: item by item, to answer each for itself
    try:
        items = decode_model(raw, BatchBody, not_object="invalid_body").scans
    except ApiError as err:
        if err.code == "invalid_json":
            raise  # not JSON, or nested too deeply to read
        raise ApiError(400, "invalid_body", 'the body must be {"scans": [...]}', "scans") from None
    if not 1 <= len(items) <= MAX_BATCH:
        raise _bad("scans", f"a batch holds 1 to {MAX_BATCH} scans")
    return [_item(item, i) for i, item in enumerate(items)]


def _item(item: ScanBody | msgspec.Raw, i: int) -> ScanRequest | ItemRefused:
    try:
        return _checked(item, f"scans[{i}].") if isinstance(item, ScanBody) else parse_scan(item, f"scans[{i}].")
    except ApiError as err:
        return ItemRefused(item.scan_id if isinstance(item, ScanBody) else item_scan_id(item), err)


def item_scan_id(raw: msgspec.Raw) -> str | None:
    """The scan_id of a refused item, if it has one as text: the kiosk matches the refusal to its journal."""
    try:
        item = orjson.loads(bytes(raw))
    except orjson.JSONDecodeError:
        return None
    scan_id = item.get("scan_id") if isinstance(item, dict) else None
    return scan_id if isinstance(scan_id, str) else None
