"""The pages under their Content-Security-Policy in a real Chromium: nothing they need is blocked, and no
other site can frame them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import LiveSystem
from tests.browser.test_console import admin_token

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""


async def _violations(page: Any) -> list[str]:
    await page.wait_for_load_state("networkidle")
    return list(await page.evaluate("window.__violations"))


async def test_pages_run_under_their_policy_without_violations(browser, live_system: LiveSystem) -> None:
    scenario = live_system.scenario(volunteers=2)
    context = await browser.new_context()
    await context.add_init_script(RECORD_VIOLATIONS)
    page = await context.new_page()
    page.on("console", lambda msg: print(f"console.{msg.type}: {msg.text}"))
    base = live_system.base_url
    for path in ("/kiosk/gate/", "/kiosk/office/", "/kiosk/card/", "/v/no-such-certificate"):
        await page.goto(base + path)
        assert await _violations(page) == [], path
    await page.goto(f"{base}/kiosk/coordinator/")
    assert await _violations(page) == []
    # The desk's style now comes from a file: it still applies.
    assert await page.evaluate("getComputedStyle(document.getElementById('desk')).maxWidth") == "832px"
    await page.goto(f"{base}/kiosk/dashboard/#token={scenario.coordinator_token}&event={scenario.event_id}")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)  # the websocket is allowed
    assert await _violations(page) == []
    # The console's pages, signed in, with their tables built and the confirmation dialog shown.
    _, admin = await admin_token(live_system)
    await page.goto(f"{base}/kiosk/console/#token={admin}")
    await page.wait_for_selector("body[data-ready=true] #events tbody tr", timeout=WAIT_MS)
    assert await _violations(page) == []
    await page.goto(f"{base}/kiosk/console/event.html?event={scenario.event_id}")
    await page.wait_for_selector("body[data-ready=true] #gates tbody tr", timeout=WAIT_MS)
    await page.click("#close-event")
    await page.wait_for_selector("#confirm[open]", timeout=WAIT_MS)
    assert await _violations(page) == []
    await context.close()


async def test_another_site_cannot_frame_the_office_page(browser, live_system: LiveSystem) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    other_origin = live_system.base_url.replace("127.0.0.1", "localhost")
    await page.goto(f"{other_origin}/healthz")
    await page.set_content(f'<iframe id="f" src="{live_system.base_url}/kiosk/office/"></iframe>')
    await page.wait_for_timeout(1500)
    frame = page.frame_locator("#f")
    assert await frame.locator("#login, header").count() == 0
    await context.close()
