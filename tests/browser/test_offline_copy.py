"""The gate's offline copy on a bad network: its service worker's install fetches every file of the gate at
once, and one lost fetch throws the whole install away. The page tries again until it is controlled."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS, LiveSystem
from tests.browser.test_kiosk import WAIT_MS, wait_controlled, watch

pytestmark = pytest.mark.browser


async def test_an_install_that_lost_a_file_is_tried_again(live_system: LiveSystem,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # Requests made by service workers are routed only with this set when Playwright's driver starts, so this
    # test starts its own Playwright rather than use the suite's browser.
    monkeypatch.setenv("PW_EXPERIMENTAL_SERVICE_WORKER_NETWORK_EVENTS", "1")
    from playwright.async_api import async_playwright

    lost: list[str] = []

    async def drop_the_first_install_fetch_of_the_stylesheet(route: Any) -> None:
        request = route.request
        if request.service_worker is not None and request.url.endswith("/gate/gate.css") and not lost:
            lost.append(request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        context = await browser.new_context()
        await context.route("**/*", drop_the_first_install_fetch_of_the_stylesheet)
        page = await context.new_page()
        watch(page)
        await page.goto(f"{live_system.base_url}/kiosk/")
        await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
        await wait_controlled(page)  # the second install, about 5 s after the first failed
        assert lost == [f"{live_system.base_url}/kiosk/gate/gate.css"]
        await browser.close()
