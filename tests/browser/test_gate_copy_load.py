"""A kiosk takes the whole gate copy of a 20,000-volunteer event into IndexedDB and answers offline from it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.browser.conftest import LiveSystem
from tests.browser.test_kiosk import WAIT_MS, device_record, open_kiosk, wedge

pytestmark = pytest.mark.browser


async def test_whole_copy_of_20000_volunteers(browser: Any, live_system: LiveSystem) -> None:
    scenario = live_system.scenario(volunteers=20_000)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    started = time.perf_counter()
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, scenario))
    await page.wait_for_selector("#copy:not([data-synced=''])", timeout=120_000)
    took = time.perf_counter() - started
    held = await page.evaluate("async () => { const c = await (await import('./store.js')).loadCopy();"
                               " return [c.cards.length, c.presence.length]; }")
    print(f"\nkiosk: whole copy of {held[0]} cards in IndexedDB {took:.1f} s after opening the page")
    assert held == [20_000, 0]
    await context.set_offline(True)
    await page.wait_for_selector("#conn[data-state=offline]", timeout=WAIT_MS)
    started = time.perf_counter()
    await wedge(page, scenario.cards[19_999][1])
    await page.wait_for_selector("#answer:not([hidden])[data-provisional=true][data-verdict=checked_in]",
                                 timeout=WAIT_MS)
    print(f"kiosk: offline answer from the copy in {(time.perf_counter() - started) * 1000:.0f} ms")
    await context.close()
