"""The request models and the one body reader, without servers: what each malformed body is answered with
(code and field), the scan's own checks after msgspec, a batch's items refused one by one, and the error
codes the API document lists held to docs/api.md's table."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import orjson
import pytest
from aiohttp import web

from checkin.error_codes import AUTH_ERRORS, STATUS
from checkin.gateway.api_doc import Doc, page, route
from checkin.gateway.errors import ApiError
from checkin.gateway.models.health import Time
from checkin.gateway.models.office import CorrectionBody, PageQuery
from checkin.gateway.models.operations import GroupBody
from checkin.gateway.models.scans import ScanAnswer
from checkin.gateway.openapi import document
from checkin.gateway.requests import decode_model
from checkin.gateway.scan_request import ItemRefused, ScanRequest, parse_batch, parse_scan
from loadtest import request_decode_cost

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
GOOD = {"scan_id": "1b4e28ba-2fa1-4d3b-883f-0016d3cca427", "card": "VC1.K.X.Y", "gate_id": "north-in",
        "scanned_at": "2023-02-05T18:03:12+08:00", "seq": 42, "mode": "entry"}


def _refusal(body: object) -> tuple[str, str | None]:
    with pytest.raises(ApiError) as caught:
        parse_scan(orjson.dumps(body) if not isinstance(body, bytes) else body)
    return caught.value.code, caught.value.field


def test_a_good_scan_is_read_whole() -> None:
    assert parse_scan(orjson.dumps(GOOD)) == ScanRequest(GOOD["scan_id"], "VC1.K.X.Y", "north-in",  # type: ignore[arg-type]
                                                         1675591392000, 42, "entry")
    braces = parse_scan(orjson.dumps({**GOOD, "scan_id": "{1B4E28BA-2FA1-4D3B-883F-0016D3CCA427}", "mode": None}))
    assert braces.scan_id == GOOD["scan_id"] and braces.mode == ""  # normalised; None is the gate's own mode
    assert parse_scan(orjson.dumps({**GOOD, "mode": "auto_gate", "extra": [1]})).mode == ""


@pytest.mark.parametrize("body,code,field", [
    (b"{not json", "invalid_json", None),
    ([GOOD], "invalid_body", None),
    ({**GOOD, "scan_id": 5}, "invalid_field", "scan_id"),
    ({**GOOD, "scan_id": "not-a-uuid"}, "invalid_field", "scan_id"),
    ({k: v for k, v in GOOD.items() if k != "card"}, "invalid_field", "card"),
    ({**GOOD, "card": ""}, "invalid_field", "card"),
    ({**GOOD, "card": "x" * 513}, "invalid_field", "card"),
    ({**GOOD, "gate_id": "north in"}, "invalid_field", "gate_id"),
    ({**GOOD, "gate_id": "north-in\n"}, "invalid_field", "gate_id"),
    ({**GOOD, "scanned_at": "2023-02-05T18:03:12"}, "invalid_field", "scanned_at"),
    ({**GOOD, "scanned_at": "yesterday"}, "invalid_field", "scanned_at"),
    ({**GOOD, "scanned_at": "1999-12-31T23:00:00Z"}, "invalid_field", "scanned_at"),
    ({**GOOD, "seq": 0}, "invalid_field", "seq"),
    ({**GOOD, "seq": 2**53}, "invalid_field", "seq"),
    ({**GOOD, "seq": 1.0}, "invalid_field", "seq"),
    ({**GOOD, "seq": True}, "invalid_field", "seq"),
    ({**GOOD, "mode": "sideways"}, "invalid_field", "mode"),
])
def test_each_bad_scan_is_refused_naming_its_field(body: object, code: str, field: str | None) -> None:
    assert _refusal(body) == (code, field)


def test_a_batch_answers_each_item_for_itself() -> None:
    items = parse_batch(orjson.dumps({"scans": [GOOD, {**GOOD, "seq": -1}, "junk", {**GOOD, "scan_id": "x"}]}))
    assert isinstance(items[0], ScanRequest)
    refused = [(i.scan_id, i.error.code, i.error.field) for i in items[1:] if isinstance(i, ItemRefused)]
    assert refused == [(GOOD["scan_id"], "invalid_field", "scans[1].seq"), (None, "invalid_body", "scans[2]"),
                       ("x", "invalid_field", "scans[3].scan_id")]
    whole = parse_batch(orjson.dumps({"scans": [GOOD, GOOD]}))  # all well-formed: decoded in one go
    assert all(isinstance(i, ScanRequest) for i in whole) and len(whole) == 2


@pytest.mark.parametrize("body,code,field", [
    (b"[1]", "invalid_body", "scans"), (b'{"scans": {}}', "invalid_body", "scans"), (b"{}", "invalid_body", "scans"),
    (b'{"scans": []}', "invalid_field", "scans"), (b"{", "invalid_json", None),
    (orjson.dumps({"scans": [GOOD] * 1001}), "invalid_field", "scans"),
])
def test_a_bad_batch_is_refused_whole(body: bytes, code: str, field: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        parse_batch(body)
    assert (caught.value.code, caught.value.field) == (code, field)


def test_the_body_reader_names_nested_fields_and_the_body_itself() -> None:
    with pytest.raises(ApiError) as caught:
        decode_model(b'{"gate_id": "g", "volunteer_ids": ["V1", 2]}', GroupBody)
    assert (caught.value.code, caught.value.field) == ("invalid_field", "volunteer_ids[1]")
    with pytest.raises(ApiError) as caught:
        decode_model(b'{"volunteer_id": "V", "action": "erase", "reason": "r"}', CorrectionBody)
    assert (caught.value.code, caught.value.field) == ("invalid_field", "action")
    with pytest.raises(ApiError) as caught:
        decode_model(b'"text"', CorrectionBody)
    assert (caught.value.code, caught.value.field) == ("invalid_json", None)
    with pytest.raises(ApiError) as caught:
        decode_model(b"\xff", CorrectionBody)
    assert caught.value.code == "invalid_json"
    assert decode_model(b'{"volunteer_id": "V", "action": "void", "reason": "r", "more": 1}', CorrectionBody) == \
        CorrectionBody("V", "void", "r")


def test_the_error_codes_are_docs_api_md_table() -> None:
    text = API_DOC.read_text(encoding="utf-8")
    table = text.split("| status | error | when |")[1].split("\n\n")[0]
    documented: dict[str, int] = {}
    for line in table.strip().splitlines()[1:]:
        status, codes = line.strip("|").split("|")[:2]
        for code in re.findall(r"`([a-z_]+)`", codes):
            documented[code] = int(status)
    assert documented == STATUS
    assert {c for codes in AUTH_ERRORS.values() for c in codes} <= set(STATUS)


def test_answer_models_refuse_what_they_do_not_describe() -> None:
    """Answers forbid unknown fields, so the document says additionalProperties false and a test that checks
    real answers against it sees a field nobody described."""
    _, schemas = msgspec.json.schema_components([ScanAnswer])
    assert schemas["ScanAnswer"]["additionalProperties"] is False


def test_the_decode_benchmark_runs_with_both_parsers_agreeing(capsys: pytest.CaptureFixture[str]) -> None:
    request_decode_cost.main(20)  # it asserts first that the hand parser and the model read the same scan
    lines = capsys.readouterr().out.splitlines()
    assert "hand parser" in lines[0] and len(lines) == 3


async def _nothing(request: web.Request) -> web.Response:
    return web.Response()


async def _other(request: web.Request) -> web.Response:
    return web.Response()


def test_the_document_of_a_small_app() -> None:
    app = web.Application()
    route(app, "GET", "/a/{event_id}", _nothing, Doc("A", answer=Time, query=PageQuery, auth="user",
                                                     errors=("not_found",)))
    route(app, "POST", "/b", _other, Doc("B", body=CorrectionBody, query=PageQuery, status=201, also=(200,)))
    page(app, "/c", _other)
    doc = document(app)
    assert set(doc["paths"]) == {"/a/{event_id}", "/b"}  # the page is not the API
    a, b = doc["paths"]["/a/{event_id}"]["get"], doc["paths"]["/b"]["post"]
    assert [(p["name"], p["in"]) for p in a["parameters"]] == [("event_id", "path"), ("offset", "query"),
                                                               ("limit", "query")]
    assert [p["name"] for p in b["parameters"]] == ["offset", "limit"]  # one query model, two routes
    assert "PageQuery" not in doc["components"]["schemas"] and "Time" in doc["components"]["schemas"]

    def codes(op: dict[str, object], status: str) -> list[str]:
        return op["responses"][status]["content"]["application/json"]["schema"]["allOf"][1][  # type: ignore[index]
            "properties"]["error"]["enum"]

    assert codes(a, "401") == ["unauthorized"] and codes(a, "404") == ["not_found"] and a["security"]
    assert codes(a, "400") == ["invalid_field"]  # a NUL anywhere, on every route
    assert codes(b, "400") == ["invalid_field", "invalid_json"] and codes(b, "413") == ["body_too_large"]
    assert {"200", "201"} <= set(b["responses"]) and b["security"] == [] and "requestBody" in b
    with pytest.raises(ValueError, match="no_such_code"):
        route(app, "GET", "/d", _other, Doc("D", errors=("no_such_code",)))


def test_a_body_nested_too_deeply_is_a_400_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000
    bodies = [(parse_scan, b'{"card": ' + deep + b"}"), (parse_scan, b'{"extra": ' + deep + b"}"),
              (parse_batch, b'{"scans": ' + deep + b"}"), (parse_batch, b'{"scans": [{"extra": ' + deep + b"}]}"),
              (lambda raw: decode_model(raw, CorrectionBody), b'{"extra": ' + deep + b"}")]
    for parse, raw in bodies:
        try:
            parse(raw)
        except ApiError as err:
            assert err.status == 400 and err.code in ("invalid_json", "invalid_body", "invalid_field"), raw[:20]
        else:
            raise AssertionError(f"accepted {raw[:20]!r}")
