"""The refused-scan report (forged, revoked and unknown cards by gate and hour): the counts, the scans behind
one count, and the same counts as CSV. For the event's coordinator or an admin, from the scan log."""

from __future__ import annotations

from dataclasses import asdict

from aiohttp import web

from checkin.gateway.api_doc import Doc, route
from checkin.gateway.auth import operator
from checkin.gateway.errors import json_response, postgres_guard
from checkin.gateway.models import console_ops as models
from checkin.gateway.requests import path_id
from checkin.gateway.state import state_key
from checkin.hours.exports import csv_bytes
from checkin.hours.refused_export import CARD_REFUSALS, REFUSED_HEADER, refused_rows
from checkin.reconcile import refused

READERS = ("admin", "coordinator")
PREFIX = "/api/v1/events/{event_id}/refused-scans"


async def get_report(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    await operator(request, event_id, READERS)
    async with postgres_guard():
        tz, counts = await refused.refused_counts(request.app[state_key].pool, event_id)
    totals = {r.value: sum(c.count for c in counts if c.reason == r.value) for r in CARD_REFUSALS}
    return json_response({"tz": tz, "reasons": [r.value for r in CARD_REFUSALS], "totals": totals,
                          "rows": [asdict(c) for c in counts]})


async def get_scans(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    await operator(request, event_id, READERS)
    gate_id = path_id(request, "gate_id")
    hour = refused.parse_hour(request.query.get("hour", ""))
    reason = refused.check_reason(request.query.get("reason", ""))
    async with postgres_guard():
        scans = await refused.refused_scans(request.app[state_key].pool, event_id, gate_id, hour, reason)
    more = len(scans) > refused.MAX_SCANS
    return json_response({"gate_id": gate_id, "hour": hour.strftime("%Y-%m-%dT%H:%M"), "reason": reason,
                          "scans": scans[:refused.MAX_SCANS], "more": more})


async def get_csv(request: web.Request) -> web.Response:
    event_id = request.match_info["event_id"]
    await operator(request, event_id, READERS)
    async with postgres_guard():
        _, counts = await refused.refused_counts(request.app[state_key].pool, event_id)
    return web.Response(body=csv_bytes(REFUSED_HEADER, refused_rows(counts)), content_type="text/csv",
                        charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{event_id}-refused-scans.csv"'})


def setup(app: web.Application) -> None:
    route(app, "GET", PREFIX, get_report,
          Doc("Cards refused at each gate in each hour (forged, revoked, not on the roster), from the scan log",
              answer=models.RefusedReport, auth="user", errors=("not_found", "unavailable")))
    route(app, "GET", PREFIX + "/scans", get_scans,
          Doc("The scans behind one count of the refused-scan report (at most 500)", query=models.RefusedQuery,
              answer=models.RefusedScans, auth="user", errors=("invalid_field", "not_found", "unavailable")))
    route(app, "GET", PREFIX + ".csv", get_csv,
          Doc("The refused-scan report as CSV (UTF-8 with a BOM, formula-safe cells)", media="text/csv", auth="user",
              errors=("not_found", "unavailable")))
