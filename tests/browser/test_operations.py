"""Gate operations in a real Chromium: the coordinator's manual check-in page with its undo, the kiosk's
undo of its last answer, and the kiosk's PIN in front of re-enrollment."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from checkin.enrollment import create_code
from tests.browser.conftest import LiveSystem
from tests.browser.test_kiosk import answer, device_record, open_kiosk, shoot, watch, wedge

pytestmark = pytest.mark.browser
WAIT_MS = 20_000


async def on_site(system: LiveSystem, event_id: str, volunteer_id: str) -> bool:
    raw = await system.arun(system.redis.hget(system.keys.event(event_id).presence, volunteer_id))
    return raw is not None and b'"on":1' in raw


async def test_coordinator_checks_in_by_name_and_undoes(browser, live_system: LiveSystem, artifacts: Path) -> None:
    sc = live_system.scenario()
    vid = sc.cards[3][0]
    context = await browser.new_context(viewport={"width": 1100, "height": 800})
    page = await context.new_page()
    watch(page)  # accepts the undo's confirm dialog
    await page.goto(f"{live_system.base_url}/kiosk/coordinator.html#token={sc.coordinator_token}&event={sc.event_id}")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    assert "token" not in page.url
    await page.fill("#q", "志工003")
    await page.press("#q", "Enter")
    await page.wait_for_selector(f"#results li[data-volunteer='{vid}']", timeout=WAIT_MS)
    assert await page.locator("#results li").count() == 1
    await page.click(f"#results li[data-volunteer='{vid}'] button[data-action=in]")
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=WAIT_MS)
    await page.wait_for_selector(f"#results li[data-volunteer='{vid}'][data-on-site=true]", timeout=WAIT_MS)
    assert await on_site(live_system, sc.event_id, vid)
    await shoot(page, artifacts, "coordinator-manual-checkin")

    await page.click("#undo")
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=annulled]", timeout=WAIT_MS)
    await page.wait_for_selector(f"#results li[data-volunteer='{vid}'][data-on-site=false]", timeout=WAIT_MS)
    assert not await on_site(live_system, sc.event_id, vid)
    annulled = await live_system.afetch("SELECT actor_kind, verdict FROM annulments WHERE event_id = $1", sc.event_id)
    assert [(r["actor_kind"], r["verdict"]) for r in annulled] == [("user", "checked_in")]
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


async def test_kiosk_undoes_its_last_answer(browser, live_system: LiveSystem, artifacts: Path) -> None:
    sc = live_system.scenario()
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, sc))
    await wedge(page, sc.cards[1][1])
    await answer(page, "checked_in")
    await page.wait_for_selector("#undo:not([hidden])", timeout=WAIT_MS)
    await page.click("#undo")  # the confirm dialog is accepted
    await answer(page, "annulled")
    await shoot(page, artifacts, "kiosk-undo")
    assert await page.is_hidden("#undo")
    assert not await on_site(live_system, sc.event_id, sc.cards[1][0])
    rows = await live_system.afetch("SELECT scan_id, actor_kind FROM annulments WHERE event_id = $1", sc.event_id)
    assert [r["actor_kind"] for r in rows] == ["device"]
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
    device = await page.evaluate("async () => (await import('./js/store.js')).loadDevice()")
    assert await live_system.afetchval("SELECT pin_hash IS NOT NULL FROM devices WHERE device_id = $1",
                                       device["device_id"])

    await page.click("#reset")  # wrong PIN: an alert, and the kiosk stays enrolled
    await asyncio.wait_for(alerted.wait(), WAIT_MS / 1000)
    assert typed[:2] == ["prompt", "alert"]
    assert await page.evaluate("async () => (await import('./js/store.js')).loadDevice()") is not None
    await page.click("#reset")  # the right PIN, then the confirm
    await page.wait_for_selector("#enroll:not([hidden])", timeout=WAIT_MS)
    assert typed[2:] == ["prompt", "confirm"]
    assert await page.evaluate("async () => (await import('./js/store.js')).loadDevice()") is None
    await context.close()
