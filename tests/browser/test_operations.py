"""Gate operations in a real Chromium: the coordinator's manual check-in page with its undo, the kiosk's
undo of its last answer, and the kiosk's PIN in front of re-enrollment."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from checkin.access.enrollment import create_code
from tests.browser.conftest import REPO, LiveSystem
from tests.browser.test_kiosk import answer, device_record, open_kiosk, shoot, watch, wedge

pytestmark = pytest.mark.browser
WAIT_MS = 20_000


async def on_site(system: LiveSystem, event_id: str, volunteer_id: str) -> bool:
    raw = await system.arun(system.redis.hget(system.keys.event(event_id).presence, volunteer_id))
    return raw is not None and b'"on":1' in raw


async def test_coordinator_checks_in_by_name_and_undoes(browser, live_system: LiveSystem, artifacts: Path) -> None:
    sc = live_system.scenario()
    vid = sc.cards[3][0]
    await live_system.afetch("UPDATE gates SET name = '服務台' WHERE gate_id = $1", f"{sc.event_id}-desk")
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    watch(page)  # accepts the undo's prompt with its suggested reason
    await page.goto(f"{live_system.base_url}/kiosk/coordinator.html#token={sc.coordinator_token}&event={sc.event_id}")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    assert "token" not in page.url
    # gates by name, with what they do in words, not their mode's code
    assert await page.locator("#gate option:checked").inner_text() == "服務台（進出自動判斷）"
    await page.fill("#q", "志工003")
    await page.press("#q", "Enter")
    await page.wait_for_selector(f"#results li[data-volunteer='{vid}']", timeout=WAIT_MS)
    assert await page.locator("#results li").count() == 1
    await page.click(f"#results li[data-volunteer='{vid}'] button[data-action=in]")
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=WAIT_MS)
    assert (await page.inner_text("#answer-text")).startswith("簽到成功 · 志工003號")
    await page.wait_for_selector(f"#results li[data-volunteer='{vid}'][data-on-site=true]", timeout=WAIT_MS)
    assert await on_site(live_system, sc.event_id, vid)
    await shoot(page, artifacts, "coordinator-manual-checkin")

    await page.click("#undo")
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=annulled]", timeout=WAIT_MS)
    await page.wait_for_selector(f"#results li[data-volunteer='{vid}'][data-on-site=false]", timeout=WAIT_MS)
    assert not await on_site(live_system, sc.event_id, vid)
    annulled = await live_system.afetch("SELECT actor_kind, verdict, reason FROM annulments WHERE event_id = $1",
                                        sc.event_id)
    assert [(r["actor_kind"], r["verdict"], r["reason"]) for r in annulled] == [("user", "checked_in", "服務台操作錯誤")]

    # the same desk in English: every word from the page's table
    await page.click("#lang")
    await page.wait_for_selector("#results li button[data-action=in]:text-is('In')", timeout=WAIT_MS)
    assert await page.locator("#gate option:checked").inner_text() == "服務台 (in or out by presence)"
    assert await page.inner_text("label:has(#gate) span") == "Gate"
    await context.close()


async def test_the_desk_says_a_card_was_revoked_and_checks_in_by_hand(browser, live_system: LiveSystem,
                                                                      artifacts: Path) -> None:
    from checkin.cards.store import revoke_card

    sc = live_system.scenario()
    vid = sc.cards[4][0]
    card_id = await live_system.afetchval("SELECT card_id FROM cards WHERE volunteer_id = $1", vid)

    async def revoke() -> None:
        async with live_system.pool.acquire() as conn:
            await revoke_card(conn, live_system.redis, live_system.keys, card_id, "遺失")

    await live_system.arun(revoke())
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    prompts: list[str] = []

    async def give_reason(dialog: Any) -> None:
        prompts.append(dialog.message)
        await dialog.accept("證件遺失，隊長確認身分")

    page.on("dialog", give_reason)
    await page.goto(f"{live_system.base_url}/kiosk/coordinator.html#token={sc.coordinator_token}&event={sc.event_id}")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await page.fill("#q", "志工004")
    await page.press("#q", "Enter")
    person = f"#results li[data-volunteer='{vid}']"
    await page.wait_for_selector(f"{person} .card-problem", timeout=WAIT_MS)
    assert "此卡已停用（遺失）" in await page.inner_text(f"{person} .card-problem")
    assert await page.is_enabled(f"{person} button[data-action=in]")
    await page.click(f"{person} button[data-action=in]")
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=WAIT_MS)
    assert prompts and prompts[0].startswith("此卡已停用（遺失）") and "人工簽到原因" in prompts[0]  # the page speaks zh-TW
    assert await on_site(live_system, sc.event_id, vid)
    await shoot(page, artifacts, "coordinator-revoked-card-by-hand")
    audited = await live_system.afetch("SELECT detail->>'reason' AS reason FROM audit_log"
                                       " WHERE action = 'manual_scan_without_card' AND subject = $1", vid)
    assert [r["reason"] for r in audited] == ["證件遺失，隊長確認身分"]
    await context.close()


async def test_a_kiosk_token_cannot_open_the_coordinator_page(browser, live_system: LiveSystem) -> None:
    sc = live_system.scenario()
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live_system.base_url}/kiosk/coordinator.html#token={sc.device_token}&event={sc.event_id}")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    assert await page.inner_text("#login-error") != ""
    assert await page.is_hidden("#desk")
    await context.close()


# Each tone the gate starts, by its pitch (Hz), in window.tones: what a volunteer hears, without a speaker.
HEAR_TONES = """window.tones = [];
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.tones.push(this.frequency.value); return start.apply(this, args); };"""


async def test_kiosk_undoes_its_last_answer(browser, live_system: LiveSystem) -> None:
    sc = live_system.scenario()
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    await context.add_init_script(HEAR_TONES)
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, sc))
    await page.mouse.click(640, 400)  # the tap that lets a browser's audio start
    await page.wait_for_selector("#sound[data-on=true]", state="attached", timeout=WAIT_MS)
    await wedge(page, sc.cards[1][1])
    await answer(page, "checked_in")
    await page.wait_for_function("() => window.tones.length >= 2", timeout=WAIT_MS)
    assert await page.evaluate("() => window.tones") == [660, 880]  # rising: in (kiosk/gate/sound.js)
    checked_in = await page.eval_on_selector("#answer", "e => getComputedStyle(e).backgroundColor")
    await page.wait_for_selector("#undo:not([hidden])", timeout=WAIT_MS)
    # On a 1280 px tablet the button is in view as it is, however long the gate's words (the test's are long).
    box = await page.locator("#undo").bounding_box()
    assert box is not None and 0 <= box["x"] and box["x"] + box["width"] <= 1280, box
    await page.click("#undo")  # the confirm dialog is accepted
    await answer(page, "annulled")
    assert await page.inner_text("#answer-title") == "已撤銷"
    # A soft falling pair of its own, not the check-out's: the ear tells an undo apart as the eye does.
    await page.wait_for_function("() => window.tones.length >= 4", timeout=WAIT_MS)
    assert await page.evaluate("() => window.tones.slice(2)") == [440, 330]
    # A colour of its own: a person glancing at the gate must not take the undo for a check-in.
    assert await page.eval_on_selector("#answer", "e => getComputedStyle(e).backgroundColor") != checked_in
    await page.screenshot(path=str(REPO / "docs" / "kiosk-screens" / "gate-undone.png"))
    assert await page.is_hidden("#undo")
    assert not await on_site(live_system, sc.event_id, sc.cards[1][0])
    rows = await live_system.afetch("SELECT scan_id, actor_kind, reason FROM annulments WHERE event_id = $1",
                                    sc.event_id)
    assert [(r["actor_kind"], r["reason"]) for r in rows] == [("device", "閘口按下撤銷上一筆")]  # in the gate's words
    assert isinstance(rows[0]["scan_id"], uuid.UUID)
    await context.close()


async def test_kiosk_settings_need_the_pin(browser, live_system: LiveSystem) -> None:
    sc = live_system.scenario()

    async def new_code() -> str:
        async with live_system.pool.acquire() as conn:
            return await create_code(conn, sc.event_id, f"{sc.event_id}-in", "pin test")

    code = await live_system.arun(new_code())
    context = await browser.new_context()
    page = await context.new_page()
    typed: list[str] = []
    alerted = asyncio.Event()
    answers = iter(["1111", "4321"])  # a wrong PIN, then the right one

    async def on_dialog(dialog: Any) -> None:
        typed.append(dialog.type)
        if dialog.type == "alert":
            alerted.set()
        if dialog.type == "prompt":
            await dialog.accept(next(answers))
        else:
            await dialog.accept()

    page.on("dialog", on_dialog)
    await page.goto(f"{live_system.base_url}/kiosk/")
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await page.fill("#enroll-code", code)
    await page.fill("#enroll-pin", "4321")
    await page.click("#enroll-form button[type=submit]")
    await page.wait_for_selector("#ready:not([hidden])", timeout=WAIT_MS)
    device = await page.evaluate("async () => (await import('./store.js')).loadDevice()")
    assert await live_system.afetchval("SELECT pin_hash IS NOT NULL FROM devices WHERE device_id = $1",
                                       device["device_id"])

    await page.click("#reset")  # wrong PIN: an alert, and the kiosk stays enrolled
    await asyncio.wait_for(alerted.wait(), WAIT_MS / 1000)
    assert typed[:2] == ["prompt", "alert"]
    assert await page.evaluate("async () => (await import('./store.js')).loadDevice()") is not None
    await page.click("#reset")  # the right PIN, then the confirm
    await page.wait_for_selector("#enroll:not([hidden])", timeout=WAIT_MS)
    assert typed[2:] == ["prompt", "confirm"]
    assert await page.evaluate("async () => (await import('./store.js')).loadDevice()") is None
    await context.close()


async def test_a_name_with_a_direction_control_is_shown_in_reading_order(browser, live_system: LiveSystem) -> None:
    """A name stored before the roster import refused direction controls: U+202E would show it reversed."""
    sc = live_system.scenario()
    vid = sc.cards[2][0]
    await live_system.afetchval("UPDATE volunteers SET name = $2 WHERE volunteer_id = $1 RETURNING 1",
                                vid, "\u202e陳小明")
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/coordinator.html#token={sc.coordinator_token}&event={sc.event_id}")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await page.fill("#q", "陳小明")
    await page.press("#q", "Enter")
    row = page.locator(f"#results li[data-volunteer='{vid}']")
    await row.wait_for(timeout=WAIT_MS)
    shown = await row.inner_text()
    assert "陳小明" in shown and "\u202e" not in shown
    await page.click(f"#results li[data-volunteer='{vid}'] button[data-action=in]")
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=WAIT_MS)
    answer_text = await page.inner_text("#answer-text")
    assert "陳小明" in answer_text and "\u202e" not in answer_text
    await context.close()
