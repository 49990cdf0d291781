"""Attention notes through the API against real Postgres and Redis: who may edit them, what a note may not say,
the check-in answer carrying the most specific note, and the gate copy carrying `a` (whole and as a delta)."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient

from checkin.access.operations import add_team_lead
from checkin.cards.store import revoke_card
from loadtest.event_factory import Scenario


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def team_of(sc: Scenario) -> str:
    return "T-" + sc.event_id.removeprefix("ev-")


async def put(gateway: TestClient, sc: Scenario, scope: str, target: str, note: object, token: str | None = None):  # type: ignore[no-untyped-def]
    return await gateway.put(f"/api/v1/events/{sc.event_id}/notes/{scope}/{target}",
                             headers=bearer(token or sc.coordinator_token), json={"note": note})


async def scan(gateway: TestClient, sc: Scenario, i: int) -> dict[str, object]:
    gate = f"{sc.event_id}-desk"
    resp = await gateway.post("/api/v1/scans", json=sc.scan(sc.cards[i][1], gate), headers=sc.auth(gate))
    assert resp.status == 200, await resp.text()
    return await resp.json()  # type: ignore[no-any-return]


async def card_id(pg_pool: asyncpg.Pool, volunteer_id: str) -> str:
    return str(await pg_pool.fetchval("SELECT card_id FROM cards WHERE volunteer_id = $1 AND status = 'active'",
                                      volunteer_id))


async def test_the_check_in_answer_carries_the_most_specific_note(gateway: TestClient, scenario: Scenario,
                                                                 pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    for scope, target, text in (("team", team_of(sc), "請先到 B 帳篷領背心"), ("shift", f"{sc.event_id}-s1", "先向區長報到"),
                                ("volunteer", sc.cards[0][0], "請到服務台找王組長")):
        resp = await put(gateway, sc, scope, target, text)
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["live"] is True
    listed = await (await gateway.get(f"/api/v1/events/{sc.event_id}/notes", headers=bearer(sc.coordinator_token))).json()
    assert {(n["scope"], n["target_id"], n["note"]) for n in listed["notes"]} == {
        ("team", team_of(sc), "請先到 B 帳篷領背心"), ("shift", f"{sc.event_id}-s1", "先向區長報到"),
        ("volunteer", sc.cards[0][0], "請到服務台找王組長")}
    assert [s["id"] for s in listed["shifts"]] == [f"{sc.event_id}-s1"] and listed["teams"][0]["id"] == team_of(sc)

    first = await scan(gateway, sc, 0)
    assert (first["verdict"], first["note"]) == ("checked_in", "請到服務台找王組長")  # the volunteer's own
    second = await scan(gateway, sc, 1)
    assert (second["verdict"], second["note"]) == ("checked_in", "先向區長報到")  # the shift's, over the team's
    resp = await gateway.delete(f"/api/v1/events/{sc.event_id}/notes/shift/{sc.event_id}-s1",
                                headers=bearer(sc.coordinator_token))
    assert resp.status == 200, await resp.text()
    third = await scan(gateway, sc, 2)
    assert (third["verdict"], third["note"]) == ("checked_in", "請先到 B 帳篷領背心")  # only the team's is left
    await gateway.delete(f"/api/v1/events/{sc.event_id}/notes/team/{team_of(sc)}", headers=bearer(sc.coordinator_token))
    fourth = await scan(gateway, sc, 3)
    assert (fourth["verdict"], fourth["note"]) == ("checked_in", None)
    audited = await pg_pool.fetch("SELECT action, subject FROM audit_log WHERE event_id = $1 AND action LIKE 'note_%'"
                                  " ORDER BY audit_id", sc.event_id)
    assert [(r["action"], r["subject"]) for r in audited] == [
        ("note_set", f"team:{team_of(sc)}"), ("note_set", f"shift:{sc.event_id}-s1"),
        ("note_set", f"volunteer:{sc.cards[0][0]}"), ("note_delete", f"shift:{sc.event_id}-s1"),
        ("note_delete", f"team:{team_of(sc)}")]


async def test_a_check_out_or_a_refusal_carries_no_note(gateway: TestClient, scenario: Scenario) -> None:
    sc = scenario
    assert (await put(gateway, sc, "team", team_of(sc), "請先到 B 帳篷領背心")).status == 200
    gate = f"{sc.event_id}-out"
    resp = await gateway.post("/api/v1/scans", json=sc.scan(sc.cards[4][1], gate), headers=sc.auth(gate))
    answer = await resp.json()
    assert answer["verdict"] == "duplicate" and answer["note"] is None  # not on site: an exit gate refuses


async def test_the_gate_copy_carries_the_note_whole_and_in_deltas(gateway: TestClient, scenario: Scenario,
                                                                  pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    auth = bearer(sc.device_token)
    assert (await put(gateway, sc, "volunteer", sc.cards[0][0], "請到服務台找王組長")).status == 200
    whole = await (await gateway.get("/api/v1/device/gate-copy", headers=auth)).json()
    first, second = await card_id(pg_pool, sc.cards[0][0]), await card_id(pg_pool, sc.cards[1][0])
    assert whole["cards"][first]["a"] == "請到服務台找王組長"
    assert "a" not in whole["cards"][second] and "as" not in whole["cards"][second]
    assert (await put(gateway, sc, "shift", f"{sc.event_id}-s1", "先向區長報到")).status == 200
    delta = await (await gateway.get("/api/v1/device/gate-copy", headers=auth,
                                     params={"since": whole["cursor"]})).json()
    assert delta["whole"]["cards"] is False
    # every card of the shift changed, except the one whose own note wins over the shift's
    assert second in delta["cards"] and first not in delta["cards"]
    assert delta["cards"][second]["as"] == {f"{sc.event_id}-s1": "先向區長報到"}


async def test_only_the_events_coordinator_or_an_admin_edits_notes(gateway: TestClient, scenario: Scenario,
                                                                   pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    async with pg_pool.acquire() as conn:
        _, lead = await add_team_lead(conn, "隊長", sc.event_id, team_of(sc))
    url = f"/api/v1/events/{sc.event_id}/notes"
    for token in (lead, sc.device_token):
        for resp in (await gateway.get(url, headers=bearer(token)),
                     await put(gateway, sc, "team", team_of(sc), "請先到 B 帳篷領背心", token),
                     await gateway.delete(f"{url}/team/{team_of(sc)}", headers=bearer(token))):
            assert resp.status == 403, await resp.text()
            assert (await resp.json())["error"] == "forbidden"
    assert (await gateway.get(url)).status == 401
    assert await pg_pool.fetchval("SELECT count(*) FROM attention_notes WHERE event_id = $1", sc.event_id) == 0


async def test_a_note_saying_something_personal_or_too_long_is_refused(gateway: TestClient, scenario: Scenario,
                                                                       pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    vid = sc.cards[0][0]
    for text, code in (("有事請打 0912-345-678", "personal_data"), ("身分證 A123456789 請核對", "personal_data"),
                       ("電話 (02) 2720 8889 轉 1", "personal_data"), ("寫信到 someone@example.org", "personal_data"),
                       ("領" * 81, "note_too_long"), ("", "invalid_field"), (12, "invalid_field"),
                       ("第一行\n第二行", "invalid_field")):
        resp = await put(gateway, sc, "volunteer", vid, text)
        assert resp.status == 400, (text, await resp.text())
        body = await resp.json()
        assert (body["error"], body["field"]) == (code, "note"), text
    for scope, target in (("volunteer", "V-nobody"), ("shift", "no-shift"), ("team", "T-nobody")):
        resp = await put(gateway, sc, scope, target, "請先到 B 帳篷領背心")
        assert resp.status == 404 and (await resp.json())["field"] == "target_id"
    resp = await put(gateway, sc, "zone", "main", "請先到 B 帳篷領背心")
    assert resp.status == 400 and (await resp.json())["field"] == "scope"
    assert await pg_pool.fetchval("SELECT count(*) FROM attention_notes WHERE event_id = $1", sc.event_id) == 0


async def test_a_team_leads_group_check_in_answers_with_each_members_note(gateway: TestClient, scenario: Scenario,
                                                                         pg_pool: asyncpg.Pool) -> None:
    sc = scenario
    async with pg_pool.acquire() as conn:
        _, lead = await add_team_lead(conn, "隊長", sc.event_id, team_of(sc))
    assert (await put(gateway, sc, "team", team_of(sc), "請先到 B 帳篷領背心")).status == 200
    assert (await put(gateway, sc, "volunteer", sc.cards[1][0], "請到服務台找王組長")).status == 200
    resp = await gateway.post(f"/api/v1/events/{sc.event_id}/group-checkin", headers=bearer(lead),
                              json={"gate_id": f"{sc.event_id}-in", "volunteer_ids": [sc.cards[0][0], sc.cards[1][0]]})
    assert resp.status == 200, await resp.text()
    assert [(r["verdict"], r["note"]) for r in (await resp.json())["results"]] == [
        ("checked_in", "請先到 B 帳篷領背心"), ("checked_in", "請到服務台找王組長")]


async def test_a_by_hand_check_in_without_a_card_answers_with_the_note(gateway: TestClient, scenario: Scenario,
                                                                        pg_pool: asyncpg.Pool, redis_client, keys) -> None:  # type: ignore[no-untyped-def]
    sc = scenario
    vid = sc.cards[0][0]
    async with pg_pool.acquire() as conn:
        await revoke_card(conn, redis_client, keys, await card_id(pg_pool, vid), "lost")
    assert (await put(gateway, sc, "volunteer", vid, "請到服務台找王組長")).status == 200
    resp = await gateway.post(f"/api/v1/events/{sc.event_id}/manual-scans", headers=bearer(sc.coordinator_token),
                              json={"volunteer_id": vid, "gate_id": f"{sc.event_id}-desk", "action": "in",
                                    "reason": "卡片遺失"})
    assert resp.status == 200, await resp.text()
    answer = await resp.json()
    assert (answer["verdict"], answer["note"]) == ("checked_in", "請到服務台找王組長")
