"""The coordinators' dashboard in a real Chromium, fed by scans posted through the API."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.browser.conftest import LiveSystem
from tests.factories import Scenario

pytestmark = pytest.mark.browser
WAIT_MS = 20_000


def watch(page: Any) -> None:
    page.on("console", lambda msg: print(f"console.{msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: print(f"pageerror: {err}"))


async def post_scans(system: LiveSystem, scenario: Scenario, cards: list[str]) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    async with aiohttp.ClientSession() as http:
        for card in cards:
            async with http.post(f"{system.base_url}/api/v1/scans", headers=auth,
                                 json=scenario.scan(card, f"{scenario.event_id}-desk")) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["verdict"] == "checked_in"


async def gateway_knows_the_test_key(system: LiveSystem) -> None:
    """A gateway started before the tests' signing key existed learns it on its next key refresh (30 s)."""
    probe = system.scenario(volunteers=1)
    async with aiohttp.ClientSession() as http:
        for _ in range(45):
            async with http.post(f"{system.base_url}/api/v1/scans", json=probe.scan(probe.cards[0][1], f"{probe.event_id}-desk"),
                                 headers={"Authorization": f"Bearer {probe.device_token}"}) as resp:
                if (await resp.json())["verdict"] != "rejected":
                    return
            await asyncio.sleep(1)
    raise AssertionError("the gateway never accepted the tests' signing key")


async def text_is(page: Any, selector: str, value: str) -> None:
    await page.wait_for_function("([s, v]) => document.querySelector(s)?.textContent.trim() === v",
                                 arg=[selector, value], timeout=WAIT_MS)


async def test_dashboard_follows_scans_live(browser, live_system: LiveSystem, artifacts: Path) -> None:
    await gateway_knows_the_test_key(live_system)
    scenario = live_system.scenario(volunteers=12)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/dashboard.html"
                    f"#token={scenario.coordinator_token}&event={scenario.event_id}")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    assert "token" not in page.url  # taken out of the address bar once stored
    await text_is(page, "#on-site", "0")
    zone = "#zones tr[data-zone=main]"
    assert await page.get_attribute(zone, "data-status") == "short"
    await text_is(page, f"{zone} td:nth-child(3)", "12")
    await text_is(page, "#missing-count", "12")

    await post_scans(live_system, scenario, [card for _, card in scenario.cards[:5]])
    await text_is(page, "#on-site", "5")
    await text_is(page, f"{zone} td:nth-child(2)", "5")
    await text_is(page, "#in-today", "5")
    await text_is(page, "#missing-count", "7")
    assert await page.get_attribute(zone, "data-status") == "short"
    missing = await page.inner_text("#missing")
    assert "志工000號" not in missing and "志工011號" in missing

    await post_scans(live_system, scenario, [card for _, card in scenario.cards[5:10]])
    await text_is(page, "#on-site", "10")
    await page.wait_for_selector(f"{zone}[data-status=low]", timeout=WAIT_MS)  # 10 of 12: low, not short
    bars = await page.eval_on_selector_all("#chart rect.in", "rects => rects.map(r => Number(r.getAttribute('height')))")
    assert len(bars) == 36 and sum(1 for h in bars if h > 0) >= 1
    await page.screenshot(path=str(artifacts / "dashboard-1280.png"), full_page=True)

    await page.click("#lang")
    await text_is(page, ".big span", "On site now")
    await text_is(page, "#conn", "Live")
    await page.screenshot(path=str(artifacts / "dashboard-1280-en.png"), full_page=True)
    await context.close()


async def test_login_form_and_refused_token(browser, live_system: LiveSystem, artifacts: Path) -> None:
    scenario = live_system.scenario(volunteers=3)
    other = live_system.scenario(volunteers=1)
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/dashboard.html")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)

    await page.fill("#login-event", scenario.event_id)
    await page.fill("#login-token", other.coordinator_token)  # a coordinator of another event
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#conn[data-state=denied]", timeout=WAIT_MS)
    assert await page.is_visible("#login")
    assert (await page.inner_text("#login-error")).strip() == "權杖無效或無權限"

    await page.fill("#login-token", scenario.coordinator_token)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await text_is(page, "#missing-count", "3")
    await page.reload()  # the session is remembered
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await page.screenshot(path=str(artifacts / "dashboard-390.png"), full_page=True)
    await context.close()
