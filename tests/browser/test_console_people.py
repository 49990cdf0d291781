"""The console's sign-in and People page in a real Chromium (issue 18): an admin signs in with a name and password,
adds a coordinator and gets the one-time link; the coordinator opens it in a fresh browser, is refused a weak
password, chooses one, and then signs in with it on the dashboard, which goes live on the session alone."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import STAFF_PASSWORD, LiveSystem
from tests.browser.test_dashboard import text_is
from tests.browser.test_kiosk import watch

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
NEW_PASSWORD = "燈會志工-north-gate-7"


async def sign_in_form(page: Any, login: str, password: str, event_id: str | None = None) -> None:
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    if event_id is not None:
        await page.fill("#login-event", event_id)
    await page.fill("#login-name", login)
    await page.fill("#login-password", password)
    await page.press("#login-password", "Enter")  # by keyboard, as a desk clerk would


async def test_an_admin_adds_a_coordinator_who_sets_a_password_and_signs_in(
        browser: Any, live_system: LiveSystem, artifacts: Path) -> None:
    scenario = live_system.scenario(volunteers=3)
    admin = await live_system.account("admin")

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/console/people.html?event={scenario.event_id}")
    await sign_in_form(page, admin, STAFF_PASSWORD)
    await page.wait_for_selector("#people-page:not([hidden])", timeout=WAIT_MS)
    # The bar keeps the event: its own pages stay linked from the People page.
    assert await page.get_attribute("#console-nav a[aria-current=page]", "href") == f"people.html?event={scenario.event_id}"
    assert await page.get_attribute("#console-nav a[href^='roster.html']", "href") == f"roster.html?event={scenario.event_id}"
    own = page.locator("#people tbody tr", has_text=admin)
    await own.wait_for(timeout=WAIT_MS)
    # No 停用 on your own row (the gateway refuses it as own_account); 重設密碼 stays.
    assert await own.locator("button[data-action=reset]").count() == 1
    assert await own.locator("button[data-action=revoke]").count() == 0

    login = f"coord-{secrets.token_hex(3)}"
    await page.fill("#add-name", "林協調")
    await page.fill("#add-login", login)
    await page.select_option("#add-role", "coordinator")
    assert await page.input_value("#add-event") == scenario.event_id  # from the page's ?event=
    await page.click("#add button[type=submit]")
    await page.wait_for_function("() => document.querySelector('#link-url')?.textContent.includes('#code=')",
                                 timeout=WAIT_MS)
    link = (await page.inner_text("#link-url")).strip()
    row = page.locator("#people tbody tr", has_text=login)
    await row.wait_for(timeout=WAIT_MS)
    assert await row.get_attribute("data-state") == "no_password"
    await page.screenshot(path=str(artifacts / "console-people.png"), full_page=True)
    await context.close()

    # The coordinator, in a browser of their own.
    fresh = await browser.new_context(viewport={"width": 800, "height": 1000})
    page = await fresh.new_page()
    watch(page)
    await page.goto(link)
    await page.wait_for_function("() => !location.hash.includes('code')", timeout=WAIT_MS)  # out of the address bar
    for weak, shown in (("1234567890", "太常見"), (login, "太常見")):
        await page.fill("#password", weak)
        await page.fill("#again", weak)
        await page.click("#choose button[type=submit]")
        await page.locator("#error", has_text=shown).wait_for(timeout=WAIT_MS)
    await page.fill("#password", "short")
    await page.fill("#again", "short")
    await page.click("#choose button[type=submit]")
    await page.locator("#error", has_text="至少需要 10 個字元").wait_for(timeout=WAIT_MS)
    await page.fill("#password", NEW_PASSWORD)
    await page.fill("#again", NEW_PASSWORD)
    await page.click("#choose button[type=submit]")
    await page.wait_for_selector("#done:not([hidden])", timeout=WAIT_MS)
    assert "林協調" in await page.inner_text("#who")
    await page.screenshot(path=str(artifacts / "console-password.png"), full_page=True)
    page = await fresh.new_page()  # the link again, in a new tab (in the same tab it is only a #fragment change)
    await page.goto(link)  # the link is spent
    await page.fill("#password", NEW_PASSWORD)
    await page.fill("#again", NEW_PASSWORD)
    await page.click("#choose button[type=submit]")
    await page.locator("#error", has_text="已使用過").wait_for(timeout=WAIT_MS)
    await fresh.close()

    # Signing in on the dashboard with the new password: the board goes live, websocket included.
    desk = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await desk.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/dashboard/")
    await sign_in_form(page, login, NEW_PASSWORD, scenario.event_id)
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await text_is(page, "#missing-count", "3")
    cookies = {c["name"]: c for c in await desk.cookies()}
    assert cookies["checkin_session"]["httpOnly"] and cookies["checkin_session"]["sameSite"] == "Strict"
    assert "checkin_session" not in await page.evaluate("() => document.cookie")  # no script reads it
    assert await live_system.afetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'user_add' AND detail->>'login' = $1", login) == 1
    await page.click("#logout")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    await desk.close()
