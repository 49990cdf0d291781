"""The gate for real people: sound never silently off, answers that stay long enough to read, a duplicate
that says what it duplicates. Screenshots of the verdict screens go to docs/kiosk-screens/."""

from __future__ import annotations

import asyncio
import re

import pytest

from checkin.access.enrollment import create_code
from checkin.scan.rules import Policy
from loadtest.event_factory import altered_card
from tests.browser.conftest import REPO, LiveSystem
from tests.browser.test_kiosk import (
    WAIT_MS,
    answer,
    device_record,
    open_kiosk,
    wait_controlled,
    wait_journal_empty,
    watch,
    wedge,
)

pytestmark = pytest.mark.browser
SCREENS = REPO / "docs" / "kiosk-screens"
MIN_MS = 3200  # the event's answer_min_ms in the two-cards test (the default is 2500)


async def shoot(page, name: str) -> None:
    SCREENS.mkdir(exist_ok=True)
    await page.screenshot(path=str(SCREENS / f"{name}.png"))


async def test_sound_prompt_until_a_tap(launch_browser, live_system: LiveSystem) -> None:
    # The rule desktop and tablet Chrome apply (headless Chromium may otherwise let audio start unasked).
    browser = await launch_browser(flags=("--autoplay-policy=document-user-activation-required",))
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch(page)
    # Nothing run in the page (Playwright's evaluate counts as a gesture, and Chromium remembers one across a
    # same-origin reload): a fresh gate after a power cycle, whose browser keeps audio suspended.
    await page.goto(f"{live_system.base_url}/kiosk/")
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    prompt = await page.wait_for_selector("#sound-prompt:not([hidden])", timeout=WAIT_MS)
    assert "點一下開啟聲音" in await prompt.inner_text()
    assert await page.get_attribute("#sound", "data-on") == "false"
    assert "聲音關閉" in await page.inner_text("#status")
    await shoot(page, "gate-sound-off")

    await page.mouse.click(640, 400)
    await page.wait_for_selector("#sound-prompt", state="hidden", timeout=WAIT_MS)
    assert await page.get_attribute("#sound", "data-on") == "true"
    assert "聲音開啟" in await page.inner_text("#status")
    await context.close()


async def test_two_cards_in_a_row_both_shown(browser, live_system: LiveSystem) -> None:
    scenario = live_system.scenario(policy=Policy(answer_min_ms=MIN_MS))
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, scenario))
    # The minimum comes with the gate copy's policy.
    await page.wait_for_function("() => document.querySelector('#copy').dataset.synced !== ''", timeout=WAIT_MS)
    first, second = scenario.cards[0][1], scenario.cards[1][1]
    await wedge(page, first)
    await wedge(page, second)
    shown = await answer(page, "checked_in")
    name_first = await page.inner_text("#answer-name")
    # The second answer waits visibly behind the first.
    note = await page.wait_for_selector("#answer-next:not([hidden])", timeout=WAIT_MS)
    assert "1" in await note.inner_text()
    assert await page.inner_text("#answer-name") == name_first
    first_at = int(await shown.get_attribute("data-shown-at"))
    assert await page.evaluate("() => document.body.dataset.answerMinMs") == str(MIN_MS)
    await shoot(page, "gate-next-waiting")

    await page.wait_for_function("(before) => document.querySelector('#answer').dataset.shownAt !== before",
                                 arg=str(first_at), timeout=WAIT_MS)
    second_at = int(await page.get_attribute("#answer", "data-shown-at"))
    assert second_at - first_at >= MIN_MS
    assert await page.get_attribute("#answer", "data-verdict") == "checked_in"
    assert await page.is_hidden("#answer-next")
    await context.close()


async def test_a_duplicate_says_what_it_repeats(browser, live_system: LiveSystem) -> None:
    scenario = live_system.scenario()  # the default debounce: a second scan within a minute is a duplicate
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, scenario))
    # The gate copy carries the event's UTC offset: times are the event's wall clock, not the device's.
    await page.wait_for_function("() => document.querySelector('#copy').dataset.synced !== ''", timeout=WAIT_MS)
    card = scenario.cards[0][1]
    await wedge(page, card)
    await answer(page, "checked_in")
    await shoot(page, "gate-checked-in")
    await wedge(page, card)
    shown = await answer(page, "duplicate")
    await wait_journal_empty(page)
    expected = await live_system.afetchval(
        "SELECT to_char(s.scanned_at AT TIME ZONE e.tz, 'HH24:MI') FROM scans s JOIN events e USING (event_id)"
        " WHERE s.event_id = $1 AND s.verdict = 'checked_in'", scenario.event_id)
    assert f"已簽到 {expected} · 不需再刷" in await shown.inner_text()
    await shoot(page, "gate-duplicate")

    # Offline, the gate copy answers the same way (provisionally).
    await context.set_offline(True)
    await page.wait_for_selector("#conn[data-state=offline]", timeout=WAIT_MS)
    await wedge(page, card)
    shown = await page.wait_for_selector("#answer:not([hidden])[data-provisional=true][data-verdict=duplicate]",
                                         timeout=WAIT_MS)
    assert f"已簽到 {expected} · 不需再刷" in await shown.inner_text()
    await shoot(page, "gate-duplicate-offline")
    await context.set_offline(False)
    await context.close()


async def test_enrollment_link_in_an_open_tab_asks_a_pin(browser, live_system: LiveSystem) -> None:
    scenario = live_system.scenario()
    gate = f"{scenario.event_id}-in"

    async def new_code() -> str:
        async with live_system.pool.acquire() as conn:
            return await create_code(conn, scenario.event_id, gate, "browser test")

    code = await live_system.arun(new_code())
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    prompts: list[str] = []
    refused = asyncio.Event()  # the alert after a wrong (here: empty) PIN
    answers = iter(["", "1357"])  # the first try at the settings gives an empty PIN, the second the right one

    async def on_dialog(dialog) -> None:
        if dialog.type == "prompt":
            prompts.append(dialog.message)
            await dialog.accept(next(answers))
        else:
            if dialog.type == "alert":
                refused.set()
            await dialog.accept()

    page.on("dialog", on_dialog)
    await page.goto(f"{live_system.base_url}/kiosk/")
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await page.wait_for_selector("#enroll:not([hidden])")
    # The link opened in this tab: only the #fragment changes, the page is not reloaded.
    await page.evaluate("(code) => { location.hash = `enroll=${code}`; }", code)
    await page.wait_for_function("() => document.querySelector('#enroll-code').value !== ''", timeout=WAIT_MS)
    assert "enroll" not in page.url
    assert "密碼" in await page.inner_text("#enroll-error")
    await page.click("#enroll-form button[type=submit]")  # no PIN: refused before anything is sent
    assert "密碼" in await page.inner_text("#enroll-error")
    assert await page.is_visible("#enroll")
    await page.fill("#enroll-pin", "1357")
    await page.click("#enroll-form button[type=submit]")
    await page.wait_for_selector("#ready:not([hidden])", timeout=WAIT_MS)
    assert await page.inner_text("#gate-name") == gate

    await page.click("#reset")  # an empty PIN does not open the settings
    await asyncio.wait_for(refused.wait(), WAIT_MS / 1000)
    assert await page.is_visible("#ready")
    assert await page.evaluate("async () => (await import('./store.js')).loadDevice()") is not None
    await page.click("#reset")  # the PIN set at enrollment does
    await page.wait_for_selector("#enroll:not([hidden])", timeout=WAIT_MS)
    assert len(prompts) == 2

    # The same code again: refused, in the page's language only.
    await page.fill("#enroll-pin", "1357")
    await page.fill("#enroll-code", code)
    await page.click("#enroll-form button[type=submit]")
    await page.wait_for_function("() => document.querySelector('#enroll-error').textContent.includes('登錄失敗')",
                                 timeout=WAIT_MS)
    error = await page.inner_text("#enroll-error")
    assert "已經用過" in error
    assert not re.search("[A-Za-z]", error), error
    await shoot(page, "gate-enroll-error")
    await context.close()


async def test_status_strip_plain_one_line_and_fresh(browser, live_system: LiveSystem) -> None:
    scenario = live_system.scenario()
    other = live_system.scenario()
    context = await browser.new_context(viewport={"width": 360, "height": 740})
    page = await context.new_page()
    watch(page, pin="0000")  # the fixture's device has no PIN: any non-empty one opens its settings
    await page.goto(f"{live_system.base_url}/kiosk/")
    await page.evaluate("async (d) => { const s = await import('./store.js'); await s.saveDevice(d); }",
                        device_record(live_system, scenario))
    await page.reload()
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await wait_controlled(page)
    strip = page.locator("#status")
    height = (await strip.bounding_box())["height"]

    card = scenario.cards[0][1]
    forged = altered_card(card)
    await wedge(page, forged)
    await answer(page, "rejected")
    assert re.fullmatch(r"卡號 [0-9A-Z]{4} [0-9A-Z]{4}", await page.inner_text("#answer-name"))  # as printed
    await shoot(page, "gate-rejected-360")
    await wedge(page, card)
    await answer(page, "checked_in")
    await page.wait_for_selector("#undo:not([hidden])", timeout=WAIT_MS)
    assert (await strip.bounding_box())["height"] == height  # the undo button does not push the screen down
    middles = await page.evaluate("""() => [...document.querySelectorAll('#status > *')]
      .map((e) => e.getBoundingClientRect()).filter((box) => box.height > 0)
      .map((box) => Math.round(box.top + box.height / 2))""")
    assert max(middles) - min(middles) <= 2, middles  # one line, on a 360 px phone too
    await wait_journal_empty(page)
    assert await page.inner_text("#journal") == "刷卡紀錄都已存好"
    await page.wait_for_function("() => document.querySelector('#on-site').textContent === '1'", timeout=WAIT_MS)
    synced = await page.inner_text("#last-sync")
    assert re.fullmatch(r"\d\d:\d\d:\d\d", synced), synced  # 24-hour, never 上午/下午
    await shoot(page, "gate-strip-360")

    await context.set_offline(True)
    await page.reload()  # served by the service worker
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    assert await page.inner_text("#on-site") == "1"
    assert re.fullmatch(r"\d\d:\d\d:\d\d", await page.inner_text("#last-sync"))
    await context.set_offline(False)

    async def new_code() -> str:
        async with live_system.pool.acquire() as conn:
            return await create_code(conn, other.event_id, f"{other.event_id}-in", "browser test")

    code = await live_system.arun(new_code())
    await page.click("#reset")
    await page.wait_for_selector("#enroll:not([hidden])", timeout=WAIT_MS)
    assert await page.inner_text("#on-site") == "—"  # not the old event's count
    await page.fill("#enroll-code", code)
    await page.fill("#enroll-pin", "1357")
    await page.click("#enroll-form button[type=submit]")
    await page.wait_for_selector("#ready:not([hidden])", timeout=WAIT_MS)
    await page.wait_for_function("() => document.querySelector('#on-site').textContent === '0'", timeout=WAIT_MS)
    await context.close()


async def test_an_early_check_out_needs_a_second_scan(browser, live_system: LiveSystem) -> None:
    # No debounce, so only the confirm rule stands between a second scan and a check-out.
    scenario = live_system.scenario(policy=Policy(debounce_s=0, min_session_min=10))
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, scenario))
    await page.wait_for_function("() => document.querySelector('#copy').dataset.synced !== ''", timeout=WAIT_MS)
    card = scenario.cards[0][1]
    confirm = "#answer:not([hidden])[data-verdict=duplicate][data-reason=confirm_checkout]"

    await wedge(page, card)
    await answer(page, "checked_in")
    await wedge(page, card)  # a minute later, unsure whether it worked: not checked out
    shown = await page.wait_for_selector(confirm, timeout=WAIT_MS)
    assert await page.inner_text("#answer-title") == "確定簽退？請再刷一次"
    assert "不是要離開就不必再刷" in await shown.inner_text()
    await shoot(page, "gate-confirm-checkout")
    await wedge(page, card)  # the second scan within confirm_s: checked out
    await answer(page, "checked_out")
    await shoot(page, "gate-checked-out")
    await wait_journal_empty(page)
    rows = await live_system.afetch("SELECT verdict, reason FROM scans WHERE event_id = $1 ORDER BY seq",
                                    scenario.event_id)
    assert [(r["verdict"], r["reason"] or None) for r in rows] == [
        ("checked_in", None), ("duplicate", "confirm_checkout"), ("checked_out", None)]

    # Offline the kiosk's own rules ask the same, and the server agrees when the journal is replayed.
    other = scenario.cards[1][1]
    await wedge(page, other)
    await answer(page, "checked_in")
    await wait_journal_empty(page)
    await context.set_offline(True)
    await page.wait_for_selector("#conn[data-state=offline]", timeout=WAIT_MS)
    await wedge(page, other)
    await page.wait_for_selector(confirm.replace("[data-verdict", "[data-provisional=true][data-verdict"),
                                 timeout=WAIT_MS)
    assert await page.inner_text("#answer-title") == "暫定 確定簽退？請再刷一次"
    await wedge(page, other)
    await page.wait_for_selector("#answer:not([hidden])[data-provisional=true][data-verdict=checked_out]",
                                 timeout=WAIT_MS)
    await context.set_offline(False)
    await wait_journal_empty(page)
    rows = await live_system.afetch("SELECT verdict, reason FROM scans WHERE event_id = $1 ORDER BY seq",
                                    scenario.event_id)
    assert [(r["verdict"], r["reason"] or None) for r in rows][3:] == [
        ("checked_in", None), ("duplicate", "confirm_checkout"), ("checked_out", None)]
    assert await page.get_attribute("#diffs", "data-count") == "0"  # every provisional answer was the server's
    await context.close()
