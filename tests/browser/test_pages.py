"""The addresses in use before the pages had folders still open their pages, offline too: a gate that
starts its browser at /kiosk/ and a phone that opens a card link (/kiosk/card.html#t=...) with no network."""

from __future__ import annotations

import pytest

from tests.browser.conftest import LiveSystem
from tests.browser.test_card_page import _link
from tests.browser.test_kiosk import wait_controlled, watch

pytestmark = pytest.mark.browser
WAIT_MS = 20_000


async def test_the_gate_opens_at_its_old_address_offline(browser, live_system: LiveSystem) -> None:  # type: ignore[no-untyped-def]
    context = await browser.new_context()
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/#from=bookmark")
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    assert page.url == f"{live_system.base_url}/kiosk/gate/#from=bookmark"
    await wait_controlled(page)

    await context.set_offline(True)
    await page.goto(f"{live_system.base_url}/kiosk/#again")  # answered by the worker: the gateway is out of reach
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    assert page.url == f"{live_system.base_url}/kiosk/gate/#again"
    assert await page.is_visible("#enroll")
    await context.close()


async def test_an_old_card_link_opens_offline(browser, live_system: LiveSystem) -> None:  # type: ignore[no-untyped-def]
    scenario = live_system.scenario(volunteers=1)
    token, card_id = await live_system.arun(_link(live_system, scenario.cards[0][0]))
    link = f"{live_system.base_url}/kiosk/card.html#t={token}"  # as the links already sent read
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(link)
    await page.wait_for_selector("#qr svg path", timeout=WAIT_MS)
    assert page.url == f"{live_system.base_url}/kiosk/card/#t={token}"
    await wait_controlled(page)

    await context.set_offline(True)
    await page.goto(link)
    await page.wait_for_selector("#qr svg path", timeout=WAIT_MS)
    assert await page.locator("#number").inner_text() == f"{card_id[:4]} {card_id[4:]}"
    assert "離線" in await page.locator("#note").inner_text()
    await context.close()


async def test_every_page_has_its_icon(browser, live_system: LiveSystem) -> None:  # type: ignore[no-untyped-def]
    context = await browser.new_context()
    page = await context.new_page()
    for folder in ("gate", "dashboard", "office", "coordinator", "card", "console"):
        await page.goto(f"{live_system.base_url}/kiosk/{folder}/")
        # Loaded as the browser loads a tab's icon: same origin, under the page's own CSP, decoded as an image.
        width = await page.evaluate("""async () => {
          const img = new Image();
          img.src = "/favicon.ico";
          await img.decode();
          return img.naturalWidth;
        }""")
        assert width >= 16, folder
    resp = await context.request.get(f"{live_system.base_url}/favicon.ico")
    assert resp.status == 200 and resp.headers["content-type"] == "image/x-icon"
    await context.close()
