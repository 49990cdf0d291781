"""Enrollment links, the device token they give, GET /api/v1/device and /time, and unknown gates."""

from __future__ import annotations

import argparse
import base64
import io
import time
from contextlib import redirect_stdout
from datetime import timedelta

import asyncpg
import redis.asyncio as aioredis

import checkin.access.accounts as accounts
import checkin.cli.admin as admin
import checkin.cli.device as cli_ops
from checkin.access.enrollment import create_code
from checkin.cards.format import public_key_bytes
from checkin.cli.device import device_link
from checkin.cli.main import cmd_admin
from checkin.config import Config
from checkin.keys import Keys
from checkin.tokens import token_hash
from loadtest.event_factory import SIGNING_KEY, Scenario


async def test_code_exchanged_once_for_a_working_device_token(gateway, scenario: Scenario, pg_pool: asyncpg.Pool,
                                                             redis_client: aioredis.Redis, keys: Keys) -> None:
    gate = f"{scenario.event_id}-in"
    async with pg_pool.acquire() as conn:
        code = await create_code(conn, scenario.event_id, gate, "north tablet")
        stored = await conn.fetchrow("SELECT * FROM enrollment_codes WHERE event_id = $1", scenario.event_id)
    assert stored["code_hash"] == token_hash(code) and code not in str(dict(stored))

    resp = await gateway.post("/api/v1/enroll", json={"code": code})
    assert resp.status == 201, await resp.text()
    body = await resp.json()
    assert (body["event_id"], body["gate_id"], body["gate_name"]) == (scenario.event_id, gate, gate)
    assert body["event_name"].startswith("測試活動")
    raw_key = public_key_bytes(SIGNING_KEY.public_key())
    assert base64.b64encode(raw_key).decode() in body["public_keys"].values()
    assert abs(body["server_time"] - time.time() * 1000) < 60_000

    auth = {"Authorization": f"Bearer {body['device_token']}"}
    device = await (await gateway.get("/api/v1/device", headers=auth)).json()
    assert device["device_id"] == body["device_id"] and device["gate_id"] == gate
    assert (device["durable_seq"], device["on_site"]) == (0, 0)
    assert device["gate_mode"] == scenario.gates[gate]
    scan = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], gate), headers=auth)
    assert scan.status == 200 and (await scan.json())["verdict"] == "checked_in"
    assert (await (await gateway.get("/api/v1/device", headers=auth)).json())["on_site"] == 1
    row = await pg_pool.fetchrow("SELECT token_hash FROM devices WHERE device_id = $1", body["device_id"])
    assert row["token_hash"] == token_hash(body["device_token"])  # only the hash is kept

    again = await gateway.post("/api/v1/enroll", json={"code": code})
    assert again.status == 409
    assert (await again.json())["error"] == "used_code"

    async with pg_pool.acquire() as conn:
        await accounts.revoke_device(conn, redis_client, keys, body["device_id"])
    revoked = await gateway.get("/api/v1/device", headers=auth)
    assert revoked.status == 403 and (await revoked.json())["error"] == "device_revoked"
    refused = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[1][1], gate), headers=auth)
    assert refused.status == 403 and (await refused.json())["error"] == "device_revoked"


async def test_unknown_and_expired_codes_are_refused(gateway, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:
    async with pg_pool.acquire() as conn:
        code = await create_code(conn, scenario.event_id, f"{scenario.event_id}-in", ttl=timedelta(seconds=1))
        await conn.execute("UPDATE enrollment_codes SET expires_at = created_at + interval '1 microsecond'"
                           " WHERE code_hash = $1", token_hash(code))
    expired = await gateway.post("/api/v1/enroll", json={"code": code})
    assert expired.status == 410 and (await expired.json())["error"] == "expired_code"
    unknown = await gateway.post("/api/v1/enroll", json={"code": "A" * 22})
    assert unknown.status == 404 and (await unknown.json())["error"] == "unknown_code"
    for bad in ({"code": 5}, {"code": "short"}, {"nope": 1}, [1], "x"):
        resp = await gateway.post("/api/v1/enroll", json=bad)
        assert resp.status == 400 and (await resp.json())["field"] == "code"
    assert (await gateway.post("/api/v1/enroll", data=b"{")).status == 400
    enrolled = await pg_pool.fetchval("SELECT count(*) FROM devices WHERE event_id = $1", scenario.event_id)
    assert enrolled == len(scenario.gate_tokens)  # the scenario's own kiosks, none from these codes


async def test_device_endpoint_refuses_bad_tokens(gateway, scenario: Scenario) -> None:
    assert (await (await gateway.get("/api/v1/device")).json())["error"] == "missing_token"
    forged = scenario.device_token.rsplit(".", 1)[0] + ".forged"
    resp = await gateway.get("/api/v1/device", headers={"Authorization": f"Bearer {forged}"})
    assert resp.status == 401 and (await resp.json())["error"] == "bad_token"
    resp = await gateway.get("/api/v1/device", headers={"Authorization": f"Bearer {scenario.device_token}"})
    assert resp.status == 200 and (await resp.json())["gate_id"] == f"{scenario.event_id}-desk"
    clock = await (await gateway.get("/api/v1/time")).json()
    assert abs(clock["server_time"] - time.time() * 1000) < 60_000


async def test_cli_link_prints_link_and_qr(scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                           keys: Keys, test_config: Config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    png = tmp_path / "enroll.png"
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    admin.add_parsers(sub, cmd_admin)
    cli_ops.add_parsers(sub, cmd_admin)  # joins the `device` group admin made
    assert parser.parse_args(["device", "revoke", "D1"]).device == "D1"
    args = parser.parse_args(["device", "link", "--event", scenario.event_id, "--gate",
                                      f"{scenario.event_id}-out", "--base-url", "https://gate.example:8443",
                                      "--png", str(png)])
    out = io.StringIO()
    async with pg_pool.acquire() as conn:
        with redirect_stdout(out):
            assert await device_link(test_config, args, conn, redis_client, keys) == 0
    text = out.getvalue()
    link = next(line for line in text.splitlines() if line.startswith("https://"))
    assert link.startswith("https://gate.example:8443/kiosk/#enroll=")
    assert "█" in text  # the QR, drawn in block characters
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    code = link.rsplit("=", 1)[1]
    assert await pg_pool.fetchval("SELECT gate_id FROM enrollment_codes WHERE code_hash = $1",
                                  token_hash(code)) == f"{scenario.event_id}-out"


async def test_unknown_gate_is_a_field_error_and_another_events_gate_a_verdict(
        gateway, scenario: Scenario, pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys) -> None:
    from loadtest.event_factory import make_event

    async with pg_pool.acquire() as conn:
        other = await make_event(conn, redis_client, keys, volunteers=1)
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    card = scenario.cards[0][1]
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, "no-such-gate"), headers=auth)
    assert resp.status == 400
    assert (await resp.json())["error"] == "unknown_gate" and (await resp.json())["field"] == "gate_id"
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, f"{other.event_id}-in"), headers=auth)
    assert resp.status == 403  # a gate that exists, but not the one this device was enrolled at
    assert ((await resp.json())["error"], (await resp.json())["field"]) == ("gate_not_enrolled", "gate_id")
    # a bad token is refused before the gate is judged
    forged = scenario.device_token.rsplit(".", 1)[0] + ".forged"
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, "no-such-gate"),
                              headers={"Authorization": f"Bearer {forged}"})
    assert resp.status == 401
    batch = {"scans": [scenario.scan(card, "no-such-gate"), scenario.scan(card, f"{scenario.event_id}-desk")]}
    results = (await (await gateway.post("/api/v1/scans/batch", json=batch, headers=auth)).json())["results"]
    assert results[0]["error"] == "unknown_gate" and results[0]["field"] == "scans[0].gate_id"
    assert results[1]["verdict"] == "checked_in"
