"""A volunteer's timeline in the office API says what happened to each scan: the gate by name, the person who
made a manual scan, and who annulled a scan, when and why (the scan row itself unchanged)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import asyncpg
from aiohttp.test_utils import TestClient

from loadtest.event_factory import Scenario


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def stored(pool: asyncpg.Pool, scan_ids: list[str], timeout: float = 10.0) -> None:
    """Until the recorder has written every one of the scans to Postgres."""
    deadline = time.monotonic() + timeout
    wanted = [uuid.UUID(s) for s in scan_ids]
    while await pool.fetchval("SELECT count(*) FROM scans WHERE scan_id = ANY($1)", wanted) < len(wanted):
        assert time.monotonic() < deadline, "the recorder did not store the scans in time"
        await asyncio.sleep(0.05)


async def post(client: TestClient, path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = await client.post(path, headers=bearer(token), json=body)
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def test_timeline_marks_annulled_and_manual_scans_with_names(
    gateway: TestClient, recorder: Any, scenario: Scenario, pg_pool: asyncpg.Pool,
) -> None:
    sc = scenario
    desk, entry = f"{sc.event_id}-desk", f"{sc.event_id}-in"
    await pg_pool.execute("UPDATE gates SET name = CASE gate_id WHEN $1 THEN '服務台' ELSE '北門入口' END"
                          " WHERE gate_id IN ($1, $2)", desk, entry)
    coordinator = await pg_pool.fetchrow("SELECT user_id, name FROM users WHERE event_id = $1 AND role = 'coordinator'",
                                         sc.event_id)
    (a, card_a), (b, card_b) = sc.cards[0], sc.cards[1]

    # a: a card at the desk, undone by the kiosk itself; then checked in by hand at the entry.
    kiosk_scan = await post(gateway, "/api/v1/scans", sc.device_token, sc.scan(card_a, desk))
    await post(gateway, f"/api/v1/scans/{kiosk_scan['scan_id']}/annul", sc.device_token, {"reason": "刷錯卡"})
    manual = await post(gateway, f"/api/v1/events/{sc.event_id}/manual-scans", sc.coordinator_token,
                        {"volunteer_id": a, "gate_id": entry, "action": "in"})
    # b: a card at the desk, annulled by the coordinator.
    card_scan = await post(gateway, "/api/v1/scans", sc.device_token, sc.scan(card_b, desk))
    await post(gateway, f"/api/v1/scans/{card_scan['scan_id']}/annul", sc.coordinator_token, {"reason": "借卡代刷"})
    await stored(pg_pool, [kiosk_scan["scan_id"], manual["scan_id"], card_scan["scan_id"]])

    url = f"/api/v1/events/{sc.event_id}/volunteers/{{}}/timeline"
    resp = await gateway.get(url.format(a), headers=bearer(sc.coordinator_token))
    assert resp.status == 200, await resp.text()
    scans = (await resp.json())["scans"]
    assert [(s["scan_id"], s["verdict"], s["gate_name"], s["source"]) for s in scans] == [
        (kiosk_scan["scan_id"], "checked_in", "服務台", "device"),
        (manual["scan_id"], "checked_in", "北門入口", "manual"),
    ]
    undone, by_hand = scans
    device_id = await pg_pool.fetchval("SELECT device_id FROM scans WHERE scan_id = $1",
                                       uuid.UUID(kiosk_scan["scan_id"]))
    label = await pg_pool.fetchval("SELECT label FROM devices WHERE device_id = $1", device_id)
    assert label.startswith("test kiosk")
    assert undone["annulled"]["by"] == {"id": device_id, "kind": "device", "name": label}  # its label
    assert undone["annulled"]["reason"] == "刷錯卡" and undone["annulled"]["at"] >= undone["at"]
    assert undone["operator"] is None
    assert by_hand["operator"] == {"id": coordinator["user_id"], "kind": "user", "name": coordinator["name"]}
    assert by_hand["annulled"] is None
    # a kiosk without a label is named by the gate it stands at
    await pg_pool.execute("UPDATE devices SET label = '' WHERE device_id = $1", device_id)
    scans = (await (await gateway.get(url.format(a), headers=bearer(sc.coordinator_token))).json())["scans"]
    assert scans[0]["annulled"]["by"]["name"] == "服務台"

    scans = (await (await gateway.get(url.format(b), headers=bearer(sc.coordinator_token))).json())["scans"]
    assert [(s["verdict"], s["gate_name"], s["operator"]) for s in scans] == [("checked_in", "服務台", None)]
    assert scans[0]["annulled"]["by"] == {"id": coordinator["user_id"], "kind": "user", "name": coordinator["name"]}
    assert scans[0]["annulled"]["reason"] == "借卡代刷"
