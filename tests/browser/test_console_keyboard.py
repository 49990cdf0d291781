"""The office console by keyboard alone and on a 10-inch tablet (issue 18: "usable by keyboard, at 1280 px and on
a 10-inch tablet"), in a real Chromium. An admin signs in, creates an event, changes a rule and adds a zone with
Tab, typing and Enter only; every stop Tab makes shows where the focus is and is on screen. Then every console
page of that event, upright on a tablet, fits the screen's width (wide tables scroll inside their panel; the
roster page says the event has no shifts yet instead of offering a dead button), and Postgres is asked what the
keys made."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.browser.conftest import STAFF_PASSWORD, LiveSystem
from tests.browser.test_kiosk import watch

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
TABLET = {"width": 800, "height": 1280}  # a 10-inch tablet upright
READY = "body[data-ready=true]"
CONSOLE_PAGES = {"index.html": READY, "event.html": READY, "roster.html": READY, "cards.html": READY,
                 "devices.html": READY, "notes.html": READY, "people.html": "#people tbody tr"}

# Where the focus is, and whether a person can see it: an outline or a ring, inside the window.
FOCUS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body) return { where: "body", shown: false, inView: false };
  const s = getComputedStyle(e);
  const ring = (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none";
  const r = e.getBoundingClientRect();
  const inView = r.width > 0 && r.height > 0 && r.bottom > 0 && r.right > 0 && r.top < innerHeight && r.left < innerWidth;
  const name = e.id || e.getAttribute("name") || e.dataset.field || (e.textContent || "").trim().slice(0, 24);
  return { where: `${e.tagName.toLowerCase()}:${name}`, shown: ring, inView };
}"""


class Keyboard:
    """Tab, type and Enter on one page, remembering every stop the focus made."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.stops: list[dict[str, Any]] = []

    async def tab_to(self, selector: str, limit: int = 150, back: bool = False) -> None:
        for _ in range(limit):
            await self.page.keyboard.press("Shift+Tab" if back else "Tab")
            self.stops.append(await self.page.evaluate(FOCUS))
            if await self.page.evaluate("(s) => !!document.activeElement?.matches(s)", selector):
                return
        raise AssertionError(f"Tab never reached {selector}; the last stops: {self.stops[-8:]}")

    async def type(self, text: str) -> None:
        await self.page.keyboard.press("ControlOrMeta+a")
        await self.page.keyboard.type(text)

    async def focused(self, selector: str) -> bool:
        return bool(await self.page.evaluate("(s) => !!document.activeElement?.matches(s)", selector))

    def unseen(self) -> list[dict[str, Any]]:
        return [s for s in self.stops if not (s["shown"] and s["inView"])]


async def test_an_admin_sets_up_an_event_by_keyboard_alone_and_every_page_fits_a_tablet(
        browser: Any, live_system: LiveSystem, artifacts: Path) -> None:
    system = live_system
    admin = await system.account("admin")
    ev = f"kb-{secrets.token_hex(3)}"
    # en-US: the date controls' segments are then month, day, year, as typed below.
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = await context.new_page()
    watch(page)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    keys = Keyboard(page)

    # Sign in: name, Tab, password, Enter.
    await page.goto(f"{system.base_url}/kiosk/console/")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    await keys.tab_to("#login-name")
    await page.keyboard.type(admin)
    await page.keyboard.press("Tab")
    assert await keys.focused("#login-password")
    await page.keyboard.type(STAFF_PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#console:not([hidden])", timeout=WAIT_MS)

    # A new event: each field in turn, the dates typed into the date controls' own segments, Enter to create.
    await keys.tab_to("#new-event input[name=id]", limit=2000)  # past a link for every event the suite has made
    await page.keyboard.type(ev)
    await page.keyboard.press("Tab")
    await page.keyboard.type("鍵盤燈會")
    await page.keyboard.press("Tab")
    assert await keys.focused("#new-event input[name=starts_on]")
    await page.keyboard.type("02242027")  # month, day, year: each segment moves to the next when full
    await keys.tab_to("#new-event input[name=ends_on]", limit=4)  # Tab stops inside a date control, too
    await page.keyboard.type("02252027")
    await keys.tab_to("#new-event input[name=tz]", limit=4)  # Asia/Taipei already there
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f"#events tr[data-event='{ev}']", timeout=WAIT_MS)
    # The page puts the focus on the new event's link, so Enter opens its setup.
    await page.wait_for_function(f"() => document.activeElement?.closest('tr')?.dataset.event === '{ev}'",
                                 timeout=WAIT_MS)
    keys.stops.append(await page.evaluate(FOCUS))
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"**/event.html?event={ev}", timeout=WAIT_MS)
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await page.wait_for_selector("#set-debounce_s", timeout=WAIT_MS)

    # A rule changed and saved: Tab to it, type, Tab on to the save button, Enter.
    await keys.tab_to("#set-debounce_s")
    await keys.type("90")
    await keys.tab_to("#event-form button[type=submit]")
    await page.keyboard.press("Enter")
    await page.wait_for_function("() => document.getElementById('event-notice').textContent === '已儲存：1 項變更'",
                                 timeout=WAIT_MS)

    # A zone: the add button, then the new row's code (focused for you), its name, its save button.
    await keys.tab_to("#add-zone")
    await page.keyboard.press("Enter")
    assert await keys.focused("#zones tbody tr:last-child input")
    await page.keyboard.type(f"{ev}-north")
    await page.keyboard.press("Tab")
    await page.keyboard.type("北區")
    await page.keyboard.press("Tab")
    assert await keys.focused("#zones tbody tr:last-child button.save")
    keys.stops.append(await page.evaluate(FOCUS))
    await page.keyboard.press("Enter")
    await page.wait_for_selector(f"#zones tr[data-row='{ev}-north']", timeout=WAIT_MS)

    # Open the event: back up to the button, Enter; the confirmation starts on its safe answer (cancel), Tab to
    # the other, Enter. The focus then stays on the page's status panel, not lost to the top of the page.
    await keys.tab_to("#open-event", back=True)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#confirm[open]", timeout=WAIT_MS)
    assert await keys.focused("#confirm-no")
    await keys.tab_to("#confirm-yes", limit=3, back=True)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#status[data-status=open]", timeout=WAIT_MS)
    await page.wait_for_function("() => document.activeElement && document.activeElement !== document.body",
                                 timeout=WAIT_MS)
    assert await keys.focused("#close-event"), await page.evaluate(FOCUS)
    keys.stops.append(await page.evaluate(FOCUS))
    await page.screenshot(path=str(artifacts / "console-keyboard.png"), full_page=True)

    assert len(keys.stops) > 20
    assert keys.unseen() == [], f"focus stops a person cannot see: {keys.unseen()}"
    assert errors == []
    row = await system.afetch("SELECT name, starts_on::text, ends_on::text, policy FROM events WHERE event_id = $1", ev)
    assert [(r["name"], r["starts_on"], r["ends_on"]) for r in row] == [("鍵盤燈會", "2027-02-24", "2027-02-25")]
    assert orjson.loads(row[0]["policy"])["debounce_s"] == 90
    assert await system.afetchval("SELECT status FROM events WHERE event_id = $1", ev) == "open"
    assert await system.afetchval("SELECT name FROM zones WHERE event_id = $1 AND zone_id = $2", ev, f"{ev}-north") == "北區"

    # Upright on a 10-inch tablet, every console page of the event fits the screen's width.
    await page.set_viewport_size(TABLET)
    overflowing = {}
    for name, ready in CONSOLE_PAGES.items():
        await page.goto(f"{system.base_url}/kiosk/console/{name}?event={ev}")
        await page.wait_for_selector(ready, timeout=WAIT_MS)
        if name == "roster.html":  # the event has no shifts yet: the page says so instead of a dead button
            await page.wait_for_selector("#assign-needs:not([hidden])", timeout=WAIT_MS)
            assert await page.inner_text("#assign-needs") == "本活動還沒有班別：請先在「活動設定」新增班別。"
            assert await page.is_disabled("#assign button[type=submit]")
        width = await page.evaluate("() => document.documentElement.scrollWidth")
        if width > TABLET["width"]:
            overflowing[name] = width
        await page.screenshot(path=str(artifacts / f"console-tablet-{name.removesuffix('.html')}.png"), full_page=True)
    assert overflowing == {}, f"pages wider than the tablet ({TABLET['width']} px): {overflowing}"
    assert errors == []
    await context.close()
