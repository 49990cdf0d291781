"""The OpenAPI document at /api/v1/openapi.json is generated from the router and the msgspec models: every
route the gateway has is in it (but the kiosk's static files, pages and redirects), and real answers of the
running gateway are valid under its schemas."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import jsonschema
import pytest
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient

from checkin.gateway.api_doc import pages_key
from checkin.keys import Keys
from loadtest.event_factory import Scenario
from tests.integration.test_office_api import Office, make_office

HOW_TO_DESCRIBE = """\
{missing} not in the API document. Add each in its module's setup(app) with
    route(app, "<METHOD>", <path>, <handler>, Doc("<summary>", answer=<Struct>, body=<Struct or None>,
          query=<Struct or None>, auth="none|device|user|device_or_user|card_link", errors=("<code>", ...)))
instead of app.router.add_*: route and Doc from checkin/gateway/api_doc.py, the Structs in
checkin/gateway/models/<area>.py (msgspec.Struct; answers with forbid_unknown_fields=True), the error codes
from checkin/error_codes.STATUS (a new code goes there and in docs/api.md's table). A page or a
redirect for browsers goes through api_doc.page(app, path, handler) instead."""


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)


def _routes(app: web.Application) -> dict[tuple[str, str], str]:
    """(method, path) -> the handler's module and name, for every route but static files and pages."""
    pages = app.get(pages_key, set())
    found = {}
    for resource in app.router.resources():
        if isinstance(resource, web.StaticResource) or resource.canonical in pages:
            continue
        for r in resource:
            if r.method != "HEAD":
                found[(r.method, resource.canonical)] = f"{r.handler.__module__}.{r.handler.__name__}"
    return found


async def _document(gateway: TestClient) -> dict[str, Any]:
    resp = await gateway.get("/api/v1/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    return dict(await resp.json())


def undescribed(app: web.Application, documented: set[tuple[str, str]]) -> str | None:
    """What to tell whoever added routes the document lacks; None when it lacks none."""
    missing = sorted(f"{m} {p} ({handler})" for (m, p), handler in _routes(app).items() if (m, p) not in documented)
    return HOW_TO_DESCRIBE.format(missing="\n".join(missing)) if missing else None


async def test_every_route_of_the_router_is_in_the_document(gateway: TestClient) -> None:
    routes = _routes(gateway.server.app)
    spec = await _document(gateway)
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    assert undescribed(gateway.server.app, documented) is None, undescribed(gateway.server.app, documented)
    assert documented == set(routes), f"described but not routed: {sorted(documented - set(routes))}"
    assert len(routes) >= 37  # every group: scans, device, office, operations, certificates, health ...
    assert {("GET", "/metrics"), ("GET", "/healthz"), ("POST", "/api/v1/enroll"),
            ("GET", "/api/v1/certificates/{cert_id}")} <= documented


async def test_a_route_added_without_a_description_is_named_with_what_to_do(gateway: TestClient) -> None:
    """The check above, on an app with one route added the old way: it names the route and its handler,
    and says what to add where."""
    app = web.Application()
    app[pages_key] = set(gateway.server.app[pages_key])
    described = {("GET", "/api/v1/time")}

    async def get_notes(request: web.Request) -> web.Response:
        return web.Response()

    async def get_time(request: web.Request) -> web.Response:
        return web.Response()

    app.router.add_get("/api/v1/time", get_time)
    assert undescribed(app, described) is None
    app.router.add_get("/api/v1/events/{event_id}/notes", get_notes)
    message = undescribed(app, described)
    assert message is not None
    assert message.startswith(f"GET /api/v1/events/{{event_id}}/notes ({__name__}.get_notes) not in the API document")
    assert "route(app, " in message and "checkin/gateway/models/" in message and "error_codes.STATUS" in message


async def test_the_document_is_openapi_3_1_with_valid_schemas_and_known_error_codes(gateway: TestClient) -> None:
    spec = await _document(gateway)
    assert spec["openapi"] == "3.1.0"
    for name, schema in spec["components"]["schemas"].items():
        jsonschema.Draft202012Validator.check_schema(schema), name
    scan = spec["paths"]["/api/v1/scans"]["post"]
    assert scan["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ScanBody"}
    codes = {s: a["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["enum"]
             for s, a in scan["responses"].items() if s != "200"}
    assert {"401": ["missing_token", "bad_token", "unknown_device"], "422": ["scan_in_future", "outside_event_dates"]
            }.items() <= codes.items()
    assert "unknown_gate" in codes["400"] and "backlogged" in codes["503"]
    verify = spec["paths"]["/api/v1/certificates/{cert_id}"]["get"]
    assert verify["security"] == [] and "429" in verify["responses"]  # public, and budgeted per address
    hours = spec["paths"]["/api/v1/events/{event_id}/hours"]["get"]
    assert {p["name"]: p["in"] for p in hours["parameters"]} == {
        "event_id": "path", "offset": "query", "limit": "query", "team_id": "query"}


def _validator(spec: dict[str, Any], name: str) -> jsonschema.Draft202012Validator:
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def _valid(spec: dict[str, Any], name: str, value: Any) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in _validator(spec, name).iter_errors(value)]
    assert not errors, (name, errors)


def _invalid(spec: dict[str, Any], name: str, value: Any) -> None:
    assert not _validator(spec, name).is_valid(value), (name, value)


async def test_real_scan_answers_and_errors_are_valid_under_the_schema(gateway: TestClient, scenario: Scenario) -> None:
    spec = await _document(gateway)
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    gate = f"{scenario.event_id}-desk"
    body = scenario.scan(scenario.cards[0][1], gate)
    _valid(spec, "ScanBody", body)
    answer = await (await gateway.post("/api/v1/scans", json=body, headers=auth)).json()
    _valid(spec, "ScanAnswer", answer)
    again = scenario.scan(scenario.cards[0][1], gate)  # the same volunteer at once: a duplicate with last_scan
    duplicate = await (await gateway.post("/api/v1/scans", json=again, headers=auth)).json()
    assert duplicate["verdict"] == "duplicate" and duplicate["last_scan"] is not None
    _valid(spec, "ScanAnswer", duplicate)
    _invalid(spec, "ScanAnswer", {**answer, "verdict": "maybe"})  # the schema is not a blank cheque
    _invalid(spec, "ScanAnswer", {**answer, "undocumented": 1})
    late = scenario.scan(scenario.cards[1][1], gate, datetime.now(UTC) - timedelta(minutes=3))
    batch_body = {"scans": [late, {**late, "scan_id": str(uuid.uuid4()), "seq": 0}]}
    _valid(spec, "BatchSchema", {"scans": [late]})
    batch = await (await gateway.post("/api/v1/scans/batch", json=batch_body, headers=auth)).json()
    assert batch["results"][1]["field"] == "scans[1].seq"
    _valid(spec, "BatchAnswer", batch)
    for item, name in zip(batch["results"], ("ScanAnswer", "ItemError"), strict=True):
        _valid(spec, name, item)
    error = await gateway.post("/api/v1/scans", json={**body, "seq": "x"}, headers=auth)
    assert error.status == 400
    _valid(spec, "Error", await error.json())
    _valid(spec, "Device", await (await gateway.get("/api/v1/device", headers=auth)).json())
    _valid(spec, "Time", await (await gateway.get("/api/v1/time")).json())
    _valid(spec, "Health", await (await gateway.get("/healthz")).json())
    _valid(spec, "Ready", await (await gateway.get("/readyz")).json())
    _valid(spec, "LiveConfig", await (await gateway.get("/api/v1/live-config")).json())
    coordinator = {"Authorization": f"Bearer {scenario.coordinator_token}"}
    url = f"/api/v1/events/{scenario.event_id}"
    _valid(spec, "Headcount", await (await gateway.get(url + "/headcount", headers=coordinator)).json())
    _valid(spec, "Gates", await (await gateway.get(url + "/gates", headers=coordinator)).json())
    copy = await gateway.get("/api/v1/device/gate-copy", headers=auth)
    _valid(spec, "GateCopy", await copy.json())


async def test_real_office_answers_are_valid_under_the_schema(gateway: TestClient, office: Office) -> None:
    spec = await _document(gateway)
    o = office
    url = f"/api/v1/events/{o.ev.event_id}"
    _valid(spec, "HoursPage", await (await gateway.get(url + "/hours", headers=o.coordinator)).json())
    _valid(spec, "AnomaliesPage", await (await gateway.get(url + "/anomalies", headers=o.coordinator)).json())
    _valid(spec, "TeamDays", await (await gateway.get(url + "/teams", headers=o.coordinator)).json())
    _valid(spec, "Summary", await (await gateway.get(url + "/summary", headers=o.coordinator)).json())
    timeline = await gateway.get(f"{url}/volunteers/{o.ids[2]}/timeline", headers=o.coordinator)
    _valid(spec, "Timeline", await timeline.json())
    correction = {"volunteer_id": o.ids[2], "action": "change", "session_key": o.keys[o.ids[2]],
                  "end": "2024-02-24T15:00:00+08:00", "reason": "紙本簽退 15:00"}
    _valid(spec, "CorrectionBody", correction)
    resp = await gateway.post(url + "/corrections", headers=o.coordinator, json=correction)
    assert resp.status == 201
    _valid(spec, "Corrected", await resp.json())
    issued = await gateway.post(f"{url}/volunteers/{o.ids[0]}/certificates", headers=o.coordinator)
    assert issued.status == 201
    cert = await issued.json()
    _valid(spec, "Certificate", cert)
    _valid(spec, "Certificates", await (await gateway.get(url + "/certificates", headers=o.coordinator)).json())
    _valid(spec, "CertificateCheck", await (await gateway.get(f"/api/v1/certificates/{cert['cert_id']}")).json())
    search = await gateway.get(url + "/roster/search?q=" + o.ids[0], headers=o.coordinator)
    _valid(spec, "SearchAnswer", await search.json())
    approval = {"team_id": o.team_id, "day": "2024-02-24"}
    resp = await gateway.post(url + "/approvals", headers=o.coordinator, json=approval)
    assert resp.status == 201, await resp.text()
    _valid(spec, "Approved", await resp.json())
    _valid(spec, "TeamReport", await (await gateway.get(f"{url}/teams/{o.team_id}/report",
                                                        headers=o.coordinator)).json())
