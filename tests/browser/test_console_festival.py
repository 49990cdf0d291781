"""Issue 18's acceptance test in a real Chromium, through the pages alone (only the first admin account is made by
the fixtures, as `checkin user add` makes it on a real install): an admin signs in on the console, sets up the
example festival (2 zones, 3 gates, 2 shifts), uploads a Big5 roster of 500 with one bad line (refused, the line
shown), fixes it, puts two teams on the shifts, issues and downloads the cards PDF, enrols a kiosk, adds a
coordinator, sets a team's attention note and opens the event. A kiosk enrols from the link, a card read from the
PDF is scanned and its verdict shows the note; the coordinator, signed in on the dashboard, sees the headcount rise.
Postgres is asked at each step what the pages did."""

from __future__ import annotations

import io
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pypdf
import pytest
import zxingcpp

from tests.browser.conftest import STAFF_PASSWORD, LiveSystem
from tests.browser.test_console import add_row, saved
from tests.browser.test_console_notes import set_note
from tests.browser.test_console_people import NEW_PASSWORD, sign_in_form
from tests.browser.test_console_setup import big5_roster
from tests.browser.test_dashboard import text_is
from tests.browser.test_kiosk import answer, wait_journal_empty, watch, wedge

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
PDF_MS = 180_000  # 500 cards are drawn while the page shows progress
PIN = "2468"
TEAM_NOTE = "請先到 B 帳篷領背心"
ON_SITE_SQL = ("SELECT count(*) FROM (SELECT DISTINCT ON (volunteer_id) verdict FROM scans"
               " WHERE event_id = $1 AND verdict IN ('checked_in', 'checked_out')"
               " ORDER BY volunteer_id, scanned_at DESC) last WHERE verdict = 'checked_in'")


def local_minute(at: datetime) -> str:
    """A datetime-local field's value."""
    return at.strftime("%Y-%m-%dT%H:%M")


def first_card_of(pdf: bytes) -> str:
    """The text of the first card printed in the PDF, read from its QR image as a phone or scanner would."""
    page = pypdf.PdfReader(io.BytesIO(pdf)).pages[0]
    (found,) = zxingcpp.read_barcodes(page.images[0].image.convert("L"))
    return found.text


async def go(page: Any, nav_file: str, shown: str = "body[data-ready=true]") -> None:
    """To another console page through the bar, as a clerk would; `shown` is there once the page has loaded."""
    await page.click(f"#console-nav a[href^='{nav_file}']")
    await page.wait_for_selector(shown, timeout=WAIT_MS)


async def test_an_office_sets_up_a_festival_in_the_console_and_a_card_from_its_pdf_checks_in(
        browser: Any, live_system: LiveSystem, tmp_path: Path) -> None:
    system = live_system
    admin = await system.account("admin")  # the first admin: `checkin user add` on a real install
    tag = secrets.token_hex(3)
    ev = f"fest-{tag}"
    now = datetime.now(ZoneInfo("Asia/Taipei")).replace(second=0, microsecond=0)
    office = await browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = await office.new_page()
    watch(page)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))

    # 1. Signed in with name and password on the console's front page.
    await page.goto(f"{system.base_url}/kiosk/console/")
    await sign_in_form(page, admin, STAFF_PASSWORD)
    await page.wait_for_selector("body[data-ready=true] #new-event", timeout=WAIT_MS)

    # 2. The festival: the event (its days around today, so the gate takes scans), zones, gates and shifts.
    form = page.locator("#new-event")
    await form.locator("[data-field=id]").fill(ev)
    await form.locator("[data-field=name]").fill("燈會志工節（驗收）")
    await form.locator("[data-field=starts_on]").fill((now - timedelta(days=1)).date().isoformat())
    await form.locator("[data-field=ends_on]").fill((now + timedelta(days=1)).date().isoformat())
    await form.locator("button[type=submit]").click()
    link = page.locator(f"#events tr[data-event='{ev}'] a")
    await link.wait_for(timeout=WAIT_MS)
    await link.click()
    await page.wait_for_selector("body[data-ready=true] #status[data-status=draft]", timeout=WAIT_MS)
    for zone, name in (("north", "北區"), ("south", "南區")):
        await add_row(page, "zones", {"id": f"{ev}-{zone}", "name": name})
        await saved(page, "zones", f"{ev}-{zone}")
    for gate, zone, mode in (("n1", "north", "entry"), ("n2", "north", "exit"), ("s1", "south", "auto")):
        await add_row(page, "gates", {"id": f"{ev}-{gate}", "zone_id": f"{ev}-{zone}", "name": f"{gate} 門",
                                      "mode": mode})
        await saved(page, "gates", f"{ev}-{gate}")
    shifts = ((f"{ev}-am", "north", "早班", now - timedelta(hours=1), now + timedelta(hours=3)),
              (f"{ev}-pm", "south", "晚班", now + timedelta(hours=3), now + timedelta(hours=7)))
    for shift_id, zone, name, starts, ends in shifts:
        await add_row(page, "shifts", {"id": shift_id, "zone_id": f"{ev}-{zone}", "name": name,
                                       "starts_at": local_minute(starts), "ends_at": local_minute(ends),
                                       "required": "250"})
        await saved(page, "shifts", shift_id)
    assert [await system.afetchval(f"SELECT count(*) FROM {table} WHERE event_id = $1", ev)
            for table in ("zones", "gates", "shifts")] == [2, 3, 2]

    # The Big5 roster: refused for its one bad line (shown by number and column), then fixed and imported.
    await go(page, "roster.html")
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    bad.write_bytes(big5_roster(tag, 500, bad_line=321))
    good.write_bytes(big5_roster(tag, 500))
    await page.set_input_files("#roster-file", str(bad))
    await page.click("#roster-check")
    problem = page.locator("#roster-problems tbody tr")
    await problem.first.wait_for(timeout=WAIT_MS)
    assert await problem.count() == 1
    line, column, message = [c.strip() for c in await problem.first.locator("td").all_inner_texts()]
    assert (line, column) == ("321", "出生年") and "不是年份" in message  # in the page's language
    assert await page.is_disabled("#roster-import")
    like = f"B{tag}%"
    assert await system.afetchval("SELECT count(*) FROM volunteers WHERE volunteer_id LIKE $1", like) == 0
    await page.set_input_files("#roster-file", str(good))
    await page.click("#roster-check")
    await page.wait_for_selector("#roster-import:not([disabled])", timeout=WAIT_MS)
    await page.click("#roster-import")
    await page.wait_for_function("() => document.querySelector('#notice').textContent.includes('500')", timeout=WAIT_MS)
    assert await system.afetchval("SELECT count(*) FROM volunteers WHERE volunteer_id LIKE $1", like) == 500

    # 3. Two teams onto the two shifts.
    teams = [await system.afetchval("SELECT team_id FROM teams WHERE name = $1", f"瀏覽器{tag}隊{n}") for n in (0, 1)]
    for team_id, (shift_id, *_) in zip(teams, shifts, strict=True):
        await page.select_option("#assign-team", team_id)
        await page.select_option("#assign-shift", shift_id)
        await page.click("#assign button[type=submit]")
        await page.wait_for_function(f"() => document.querySelector('#shifts tr[data-shift=\"{shift_id}\"] td.num')"
                                     "?.textContent === '250'", timeout=WAIT_MS)
    assert [tuple(r) for r in await system.afetch(
        "SELECT a.shift_id, v.team_id, count(*) FROM assignments a JOIN volunteers v USING (volunteer_id)"
        " WHERE a.event_id = $1 GROUP BY 1, 2 ORDER BY 1", ev)] == [(shifts[0][0], teams[0], 250),
                                                                   (shifts[1][0], teams[1], 250)]

    # The cards: the missing ones issued, then everyone's PDF downloaded.
    await go(page, "cards.html")
    await page.wait_for_function("() => document.querySelector('#count-missing').textContent === '500'",
                                 timeout=WAIT_MS)
    await page.click("#issue")
    await page.wait_for_function("() => document.querySelector('#count-missing').textContent === '0'",
                                 timeout=WAIT_MS)
    async with page.expect_download(timeout=PDF_MS) as info:
        await page.click("#print-all")
    pdf = Path(await (await info.value).path()).read_bytes()
    assert sum(len(p.images) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages) == 500
    card = first_card_of(pdf)
    volunteer_id, team_id = (await system.afetch(
        "SELECT v.volunteer_id, v.team_id FROM cards c JOIN volunteers v USING (volunteer_id)"
        " WHERE c.card_text = $1 AND c.status = 'active'", card))[0]
    assert volunteer_id.startswith(f"B{tag}") and team_id in teams

    # A kiosk for the north entry gate: its enrolment link and QR, with a PIN.
    await go(page, "devices.html")
    await page.select_option("#enrol-gate", f"{ev}-n1")
    await page.fill("#enrol-label", "北門平板")
    await page.fill("#enrol-pin", PIN)
    await page.click("#enrol button[type=submit]")
    await page.wait_for_selector("#enrol-link img.qr", timeout=WAIT_MS)
    enrol_link = await page.get_attribute("[data-testid=enrol-url]", "href") or ""
    assert enrol_link.startswith(system.base_url) and "/kiosk/#enroll=" in enrol_link

    # 4. The attention note for the team whose card is first in the PDF.
    await go(page, "notes.html", "body[data-ready=true] #notes:not([hidden])")
    await set_note(page, "team", team_id, TEAM_NOTE)
    await page.wait_for_selector(f"#notes-table tr[data-scope=team][data-target='{team_id}']", timeout=WAIT_MS)

    # A coordinator of the festival on the People page: the one-time link shows.
    await go(page, "people.html", "#people-page:not([hidden])")
    coordinator = f"coord-{tag}"
    await page.fill("#add-name", "林協調")
    await page.fill("#add-login", coordinator)
    await page.select_option("#add-role", "coordinator")
    await page.fill("#add-event", ev)
    await page.click("#add button[type=submit]")
    await page.wait_for_function("() => document.querySelector('#link-url')?.textContent.includes('#code=')",
                                 timeout=WAIT_MS)
    password_link = (await page.inner_text("#link-url")).strip()

    # Back to the festival through the events list (the People page is not one event's), and opened after its
    # confirmation.
    await go(page, "./", f"body[data-ready=true] #events tr[data-event='{ev}'] a")
    await page.click(f"#events tr[data-event='{ev}'] a")
    await page.wait_for_selector("body[data-ready=true] #status[data-status=draft]", timeout=WAIT_MS)
    await page.click("#open-event")
    await page.wait_for_selector("#confirm[open]", timeout=WAIT_MS)
    await page.click("#confirm-yes")
    await page.wait_for_selector("#status[data-status=open]", timeout=WAIT_MS)
    assert errors == []
    await office.close()

    # 6 (before the scan, to see the figure rise). The coordinator chooses a password from the link, in a
    # browser of their own, and signs in on the dashboard.
    desk = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await desk.new_page()
    watch(page)
    await page.goto(password_link)
    await page.fill("#password", NEW_PASSWORD)
    await page.fill("#again", NEW_PASSWORD)
    await page.click("#choose button[type=submit]")
    await page.wait_for_selector("#done:not([hidden])", timeout=WAIT_MS)
    board = await desk.new_page()
    watch(board)
    await board.goto(f"{system.base_url}/kiosk/dashboard/")
    await sign_in_form(board, coordinator, NEW_PASSWORD, ev)
    await board.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await text_is(board, "#on-site", "0")
    assert await system.afetchval(ON_SITE_SQL, ev) == 0

    # 5. The kiosk, in a browser of its own: enrolled from the link with its PIN; the card from the PDF is scanned.
    gate_context = await browser.new_context(viewport={"width": 1280, "height": 800})
    gate = await gate_context.new_page()
    watch(gate, pin=PIN)
    await gate.goto(enrol_link)
    await gate.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    # The link brings the code; the kiosk asks for its settings PIN before it enrols.
    await gate.wait_for_selector("#enroll:not([hidden]) #enroll-pin:focus", timeout=WAIT_MS)
    assert "密碼" in await gate.inner_text("#enroll-error")
    await gate.fill("#enroll-pin", PIN)
    await gate.press("#enroll-pin", "Enter")
    await gate.wait_for_selector("#ready:not([hidden])", timeout=WAIT_MS)
    assert await gate.inner_text("#gate-name") == "n1 門"
    await wedge(gate, card)
    shown = await answer(gate, "checked_in")
    assert "簽到" in await shown.inner_text()
    assert await gate.get_attribute("#answer", "data-provisional") == "false"  # the gateway's own answer
    assert await gate.inner_text("#answer-note") == f"提醒：{TEAM_NOTE}"
    await wait_journal_empty(gate)  # in Postgres now

    # The headcount rises on the coordinator's dashboard, to what Postgres holds.
    await text_is(board, "#on-site", "1")
    assert await system.afetchval(ON_SITE_SQL, ev) == 1
    assert [tuple(r) for r in await system.afetch(
        "SELECT volunteer_id, gate_id, verdict FROM scans WHERE event_id = $1", ev)] == \
        [(volunteer_id, f"{ev}-n1", "checked_in")]
    await gate_context.close()
    await desk.close()
