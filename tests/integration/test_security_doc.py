"""docs/security.md's table of tokens and routes is the gateway's: every route has a row, every row is a
route, and every cell holds: a holder marked refused is refused, a holder marked allowed gets past the
token checks, and a coordinator of another event is refused wherever the table says "own event"."""

from __future__ import annotations

import argparse
import asyncio
import re
import uuid
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

import checkin.cards.links as card_links
import checkin.cli.admin as admin
from checkin.access.operations import add_team_lead
from checkin.cli.main import cmd_admin
from checkin.config import Config
from checkin.keys import Keys
from loadtest.event_factory import Scenario
from tests.integration.test_office_api import Office, make_office

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
HOLDERS = ("none", "card link", "device", "team lead", "coordinator", "admin")
ALLOWED = {"yes", "own event", "own team", "own scans", "code"}
REFUSED = "—"


def table() -> dict[tuple[str, str], dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    block = text.split("<!-- routes -->")[1].split("<!-- /routes -->")[0]
    rows: dict[tuple[str, str], dict[str, str]] = {}
    for line in block.strip().splitlines()[2:]:  # past the header and its rule
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        method, route, *marks = cells
        assert len(marks) == len(HOLDERS) and set(marks) <= ALLOWED | {REFUSED}, line
        key = (method, route.strip("`"))
        assert key not in rows, f"{key} twice"
        rows[key] = dict(zip(HOLDERS, marks, strict=True))
    return rows


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)


def covers(row: tuple[str, str], route: tuple[str, str]) -> bool:
    """A row ending in * (the kiosk's pages and files) covers every route under its prefix."""
    if row[1].endswith("*"):
        return row[0] == route[0] and route[1].startswith(row[1][:-1])
    return row == route


async def test_every_route_has_a_row_and_every_row_is_a_route(gateway: TestClient) -> None:
    routes = {(r.method, r.resource.canonical) for r in gateway.server.app.router.routes()
              if r.resource is not None and r.method != "HEAD"}
    rows = set(table())
    assert {r for r in routes if not any(covers(row, r) for row in rows)} == set(), \
        "routes without a row in docs/security.md"
    assert {row for row in rows if not any(covers(row, r) for r in routes)} == set(), \
        "rows in docs/security.md without a route"


async def test_every_cell_of_the_table_holds(gateway: TestClient, office: Office, pg_pool: asyncpg.Pool) -> None:
    o = office
    ev = o.ev.event_id
    async with pg_pool.acquire() as conn:
        _, lead = await add_team_lead(conn, "隊長", ev, o.team_id)
        link, _ = await card_links.create_link(conn, o.ids[0])
    admin = o.admin["Authorization"].split()[1]
    issued = await gateway.post(f"/api/v1/events/{ev}/volunteers/{o.ids[0]}/certificates", headers=o.admin)
    assert issued.status in (200, 201), await issued.text()
    tokens = {"none": None, "card link": link, "device": o.ev.device_token, "team lead": lead,
              "coordinator": o.ev.coordinator_token, "admin": admin}
    stranger = o.stranger["Authorization"].split()[1]
    values = {"event_id": ev, "scan_id": str(uuid.uuid4()), "volunteer_id": o.ids[0], "team_id": o.team_id,
              "cert_id": (await issued.json())["cert_id"], "kind": "records", "scope": "volunteer",
              "target_id": o.ids[0],
              "device_id": o.ev.device_token.split(".")[1],
              "row_id": "console-row",
              "user_id": "U-nobody"}  # the people routes: a user that is not there, so no account changes
    body = {"reason": "測試", "day": "2024-02-24", "team_id": o.team_id, "volunteer_id": o.ids[0],
            "action": "add", "start": "2024-02-24T18:00", "end": "2024-02-24T19:00", "q": "志工",
            "gate_id": f"{ev}-desk", "volunteer_ids": [o.ids[0]], "pin": "2468"}

    async def ask(method: str, route: str, token: str | None) -> int:
        path = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], route)
        path = "/kiosk/" if path == "/kiosk*" else path
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        params = {"q": "志工"} if route.endswith("/search") else {"token": token} if route == "/api/v1/card" else {}
        for _ in range(3):  # the per-address budgets (docs/operations.md) are not what the table is about
            resp = await gateway.request(method, path, headers=headers,
                                         params={k: v for k, v in params.items() if v},
                                         json=body if method == "POST" else None, allow_redirects=False)
            if resp.status != 429:
                break
            await asyncio.sleep(float(resp.headers.get("Retry-After", "1")))
        assert resp.status < 500, (method, route, await resp.text())
        return resp.status

    for (method, route), marks in table().items():
        for holder, mark in marks.items():
            status = await ask(method, route, tokens[holder])
            if mark == REFUSED:
                assert status in (400, 401, 403), (method, route, holder, status)
            else:
                assert status not in (401, 403), (method, route, holder, status)
        if marks["coordinator"] == "own event" and "{event_id}" in route:
            assert await ask(method, route, stranger) == 403, (method, route, "a coordinator of another event")


async def test_a_user_token_is_revoked_as_the_doc_says(gateway: TestClient, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                      redis_client: aioredis.Redis, keys: Keys,
                                                      test_config: Config) -> None:
    assert "checkin user revoke" in DOC.read_text(encoding="utf-8")
    url = f"/api/v1/events/{scenario.event_id}/headcount"
    auth = {"Authorization": f"Bearer {scenario.coordinator_token}"}
    assert (await gateway.get(url, headers=auth)).status == 200
    parser = argparse.ArgumentParser()
    admin.add_parsers(parser.add_subparsers(dest="command", required=True), cmd_admin)
    args = parser.parse_args(["user", "revoke", scenario.coordinator_token.split(".")[0]])
    async with pg_pool.acquire() as conn:
        assert await args.action(test_config, args, conn, redis_client, keys) == 0
    resp = await gateway.get(url, headers=auth)
    assert resp.status == 401 and (await resp.json())["error"] == "unauthorized"
    args = parser.parse_args(["user", "revoke", "U-nobody"])
    async with pg_pool.acquire() as conn:
        with pytest.raises(LookupError):
            await args.action(test_config, args, conn, redis_client, keys)
