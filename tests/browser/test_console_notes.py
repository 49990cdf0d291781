"""Attention notes end to end in a real Chromium: a coordinator sets them through the console's notes.html, then
the gate's verdict screen shows the note at a check-in, online from the server's answer and offline from the
gate copy. Screenshots go to docs/console/."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checkin.scan.rules import Policy
from loadtest.event_factory import Scenario
from tests.browser.conftest import REPO, LiveSystem
from tests.browser.test_dashboard import gateway_knows_the_test_key
from tests.browser.test_kiosk import answer, device_record, open_kiosk, watch, wedge
from tests.browser.test_offline_verdicts import copy_synced, provisional

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
SHOTS = REPO / "docs" / "console"
OWN_NOTE = "請到服務台找王組長"
TEAM_NOTE = "請先到 B 帳篷領背心"


def team_of(sc: Scenario) -> str:
    return "T-" + sc.event_id.removeprefix("ev-")


async def open_notes(context: Any, system: LiveSystem, sc: Scenario) -> Any:
    page = await context.new_page()
    watch(page)
    await page.goto(f"{system.base_url}/kiosk/console/notes.html?event={sc.event_id}#token={sc.coordinator_token}")
    await page.wait_for_selector("body[data-ready=true] #notes:not([hidden])", timeout=WAIT_MS)
    return page


async def set_note(page: Any, scope: str, target: str, text: str) -> None:
    await page.select_option("#note-scope", scope)
    if scope == "volunteer":
        await page.fill("#note-volunteer", target)
    else:
        await page.select_option("#note-target", target)
    await page.fill("#note-text", text)
    await page.click("#note-form button[type=submit]")


async def test_a_note_set_in_the_console_shows_at_the_gate_online_and_offline(browser: Any, live_system: LiveSystem,
                                                                             artifacts: Path) -> None:
    await gateway_knows_the_test_key(live_system)
    sc = live_system.scenario(volunteers=3, policy=Policy(debounce_s=0))
    (own_vid, own_card), (_, team_card), (desk_vid, _) = sc.cards
    SHOTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_notes(context, live_system, sc)
    assert await page.get_attribute("#console-nav a[aria-current=page]", "href") == f"notes.html?event={sc.event_id}"

    await set_note(page, "volunteer", own_vid, "有事請打 0912-345-678")  # refused: the gate shows it to anyone
    await page.wait_for_function("() => document.getElementById('note-error').textContent.includes('電話號碼')",
                                 timeout=WAIT_MS)
    await page.screenshot(path=str(SHOTS / "notes-refused.png"))
    await set_note(page, "volunteer", own_vid, OWN_NOTE)
    await page.wait_for_selector(f"#notes-table tr[data-scope=volunteer][data-target='{own_vid}']", timeout=WAIT_MS)
    await set_note(page, "team", team_of(sc), TEAM_NOTE)
    await page.wait_for_selector(f"#notes-table tr[data-scope=team][data-target='{team_of(sc)}']", timeout=WAIT_MS)
    assert await page.inner_text("#note-error") == ""
    await page.screenshot(path=str(SHOTS / "notes.png"), full_page=True)
    stored = await live_system.afetch("SELECT scope, target_id, note FROM attention_notes WHERE event_id = $1"
                                      " ORDER BY scope", sc.event_id)
    assert [tuple(r) for r in stored] == [("team", team_of(sc), TEAM_NOTE), ("volunteer", own_vid, OWN_NOTE)]

    gate = await open_kiosk(context, live_system.base_url, device_record(live_system, sc))
    await wedge(gate, own_card)  # online: the server's answer carries the volunteer's own note
    await gate.wait_for_selector("#answer:not([hidden])[data-provisional=false][data-verdict=checked_in]",
                                 timeout=WAIT_MS)
    assert await gate.inner_text("#answer-note") == f"提醒：{OWN_NOTE}"
    await gate.screenshot(path=str(SHOTS / "kiosk-note-online.png"))
    await copy_synced(gate)

    await context.set_offline(True)
    await gate.wait_for_selector("#conn[data-state=offline]", timeout=WAIT_MS)
    await wedge(gate, team_card)  # offline: the gate copy's record carries the team's note
    await provisional(gate, "checked_in")
    assert await gate.inner_text("#answer-note") == f"提醒：{TEAM_NOTE}"
    await gate.screenshot(path=str(SHOTS / "kiosk-note-offline.png"))
    await wedge(gate, own_card)  # a check-out carries no note
    await answer(gate, "checked_out")
    assert await gate.is_hidden("#answer-note")

    # the coordinator's desk, checking a volunteer in by name, says the note as well
    await context.set_offline(False)
    desk = await context.new_page()
    watch(desk)
    await desk.goto(f"{live_system.base_url}/kiosk/coordinator/#token={sc.coordinator_token}&event={sc.event_id}")
    await desk.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await desk.fill("#q", "志工002")
    await desk.press("#q", "Enter")
    await desk.click(f"#results li[data-volunteer='{desk_vid}'] button[data-action=in]")
    await desk.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=WAIT_MS)
    assert (await desk.inner_text("#answer-text")).endswith(f"提醒：{TEAM_NOTE}")
    await context.close()
