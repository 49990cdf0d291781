"""One Redis round trip per scan, counted on the server: MONITOR sees every command each client sends.

After a warm-up scan (the gateway learns the gate exists), N scans through the gateway must show, from the
gateway's connections, exactly N EVALSHA naming the event's keys and no other command; and the batcher's
pipelines (its `round_trips`) number at most N, fewer when scans arrive together.
"""

from __future__ import annotations

import asyncio
import secrets

import redis.asyncio as aioredis

from checkin.gateway.state import state_key
from loadtest.event_factory import Scenario

N = 15  # the factory makes 20 volunteers; one is the warm-up


async def _commands_until(monitor, sentinel: str) -> list[dict]:  # type: ignore[no-untyped-def]
    seen = []
    while True:
        info = await asyncio.wait_for(monitor.next_command(), 10)
        if sentinel in info["command"]:
            return seen
        seen.append(info)


async def test_each_scan_is_one_evalsha(gateway, scenario: Scenario, redis_client: aioredis.Redis) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    gate = f"{scenario.event_id}-desk"
    batcher = gateway.server.app[state_key].batcher
    warm = await gateway.post("/api/v1/scans", json=scenario.scan(scenario.cards[0][1], gate), headers=auth)
    assert warm.status == 200

    sentinel = f"round-trip-sentinel-{secrets.token_hex(4)}"
    async with redis_client.monitor() as monitor:
        before = batcher.round_trips
        for _, card in scenario.cards[1:N + 1]:  # one at a time: a pipeline each
            resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, gate), headers=auth)
            assert resp.status == 200
        sequential = batcher.round_trips - before

        before = batcher.round_trips
        scans = [scenario.scan(card, gate) for _, card in scenario.cards[1:N + 1]]  # together: check-outs
        answers = await asyncio.gather(*(gateway.post("/api/v1/scans", json=s, headers=auth) for s in scans))
        assert [a.status for a in answers] == [200] * N
        together = batcher.round_trips - before

        await redis_client.echo(sentinel)
        commands = await _commands_until(monitor, sentinel)

    from_clients = [c for c in commands if c["client_type"] != "lua"]
    gateway_addrs = {(c["client_address"], c["client_port"]) for c in from_clients if scenario.event_id in c["command"]}
    sent = [c["command"].split(" ", 1)[0].upper() for c in from_clients
            if (c["client_address"], c["client_port"]) in gateway_addrs]
    assert sent == ["EVALSHA"] * (2 * N), sent
    assert sequential == N
    assert 1 <= together <= N
    print(f"\n{2 * N} scans: {len(sent)} commands from the gateway, all EVALSHA; batcher pipelines: "
          f"{sequential} for {N} sequential scans, {together} for {N} concurrent ones; "
          f"{sum(1 for c in commands if c['client_type'] == 'lua')} commands ran inside the script")
