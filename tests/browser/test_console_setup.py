"""The console's roster, cards and devices pages in a real Chromium, as an admin uses them: a Big5 roster of
500 volunteers with one bad line (the page shows the line and nothing is written), fixed and imported; a
team put on a shift; the cards issued and the team's PDF downloaded; a kiosk's enrolment QR and link made.
Each result is checked in Postgres, and each page's screenshot is written to docs/console/."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pypdf
import pytest

from checkin.access.accounts import add_user
from tests.browser.conftest import REPO, STAFF_PASSWORD, LiveSystem
from tests.browser.test_kiosk import watch

pytestmark = pytest.mark.browser
WAIT_MS = 30_000
SHOTS = REPO / "docs" / "console"
HEADER = "志工編號,姓名,志工隊,運用單位,出生年,電話"


def big5_roster(tag: str, size: int, bad_line: int | None = None) -> bytes:
    """`size` volunteers in two teams, as an office's spreadsheet saves them in Big5; the row on file line
    `bad_line` has a birth year written in words."""
    lines = [HEADER]
    for n in range(size):
        year = "民國六十年" if bad_line == n + 2 else str(1950 + n % 50)
        lines.append(f"B{tag}{n:04d},志工{n:04d},瀏覽器{tag}隊{n % 2},瀏覽器單位{tag},{year},0912{n:06d}")
    return ("\r\n".join(lines) + "\r\n").encode("cp950")


async def admin_token(system: LiveSystem) -> str:
    async with system.pool.acquire() as conn:
        _, token = await add_user(conn, "主控台管理員", "admin", None)
    return token


async def shoot(page: Any, name: str) -> None:
    """A screenshot for docs/console.md, from the top (the bar is sticky: scrolled, it lands mid-page)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.evaluate("() => window.scrollTo(0, 0)")
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def open_console(context: Any, system: LiveSystem, page_file: str, event_id: str, token: str) -> Any:
    page = await context.new_page()
    watch(page)
    await page.goto(f"{system.base_url}/kiosk/console/{page_file}?event={event_id}#token={token}")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    return page


async def test_an_admin_sets_up_roster_cards_and_a_kiosk_through_the_pages(
        browser: Any, live_system: LiveSystem, tmp_path: Path) -> None:
    system = live_system
    ev = system.scenario(volunteers=2)
    event_id, tag = ev.event_id, ev.event_id.removeprefix("ev-")[:6]
    token = await system.arun(admin_token(system))
    context = await browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = await open_console(context, system, "roster.html", event_id, token)
    assert "#token" not in page.url  # the token left the address bar

    # A Big5 roster of 500 with one bad line: the check names the line and column, and nothing is written.
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

    # The fixed file: checked (a preview, still nothing written), then imported.
    await page.set_input_files("#roster-file", str(good))
    await page.click("#roster-check")
    await page.wait_for_selector("#roster-import:not([disabled])", timeout=WAIT_MS)
    assert await page.locator("#roster-problems-box").is_hidden()
    assert await page.locator("#roster-preview tbody tr").count() == 20
    assert await system.afetchval("SELECT count(*) FROM volunteers WHERE volunteer_id LIKE $1", like) == 0
    await page.keyboard.press("Enter")  # the import button has the focus after a clean check
    await page.wait_for_function("() => document.querySelector('#notice').textContent.includes('500')", timeout=WAIT_MS)
    assert await system.afetchval("SELECT count(*) FROM volunteers WHERE volunteer_id LIKE $1", like) == 500

    # A whole team onto the event's shift.
    team_id = await system.afetchval("SELECT team_id FROM teams WHERE name = $1", f"瀏覽器{tag}隊1")
    await page.select_option("#assign-team", team_id)
    await page.select_option("#assign-shift", f"{event_id}-s1")
    await page.click("#assign button[type=submit]")
    await page.wait_for_function("() => document.querySelector('#notice').textContent.includes('250')", timeout=WAIT_MS)
    assert await system.afetchval(
        "SELECT count(*) FROM assignments a JOIN volunteers v USING (volunteer_id)"
        " WHERE a.event_id = $1 AND a.shift_id = $2 AND v.team_id = $3", event_id, f"{event_id}-s1", team_id) == 250
    await page.wait_for_function(f"() => document.querySelector('#shifts tr[data-shift=\"{event_id}-s1\"] td.num')"
                                 "?.textContent === '252'", timeout=WAIT_MS)
    await shoot(page, "roster")

    # Cards: through the console bar; issue the missing ones, then the team's PDF.
    await page.click("#console-nav a[href^='cards.html']")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await page.wait_for_function("() => document.querySelector('#count-missing').textContent === '250'", timeout=WAIT_MS)
    await page.click("#issue")
    await page.wait_for_function("() => document.querySelector('#count-missing').textContent === '0'", timeout=WAIT_MS)
    assert await system.afetchval(
        "SELECT count(*) FROM cards c JOIN volunteers v USING (volunteer_id) WHERE v.team_id = $1"
        " AND c.status = 'active'", team_id) == 250
    async with page.expect_download(timeout=120_000) as info:
        await page.click(f"#teams button[data-team='{team_id}']")
    download = await info.value
    reader = pypdf.PdfReader(io.BytesIO(Path(await download.path()).read_bytes()))
    assert len(reader.pages) == 25 and sum(len(p.images) for p in reader.pages) == 250
    assert await page.get_attribute("#print-progress", "value") == "250"
    vid = f"B{tag}0001"
    await page.fill("#one-volunteer", vid)
    await page.click("#make-link")
    await page.wait_for_selector("#link-box img.qr", timeout=WAIT_MS)
    assert "/kiosk/card.html#t=" in (await page.get_attribute("#link-box a", "href") or "")
    await shoot(page, "cards")

    # Devices: a kiosk's enrolment link and QR, with the PIN the office chose.
    await page.click("#console-nav a[href^='devices.html']")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await page.wait_for_selector("#device-list tbody tr[data-device]", timeout=WAIT_MS)
    await page.select_option("#enrol-gate", f"{event_id}-in")
    await page.fill("#enrol-label", "北門平板")
    await page.fill("#enrol-pin", "12")
    await page.click("#enrol button[type=submit]")
    await page.wait_for_function("() => document.querySelector('#enrol-pin').getAttribute('aria-invalid') === 'true'",
                                 timeout=WAIT_MS)  # refused beside its field
    await page.fill("#enrol-pin", "2468")
    await page.click("#enrol button[type=submit]")
    await page.wait_for_selector("#enrol-link img.qr", timeout=WAIT_MS)
    link = await page.get_attribute("[data-testid=enrol-url]", "href") or ""
    assert link.startswith(system.base_url) and "/kiosk/#enroll=" in link
    row = await system.afetch("SELECT label, pin_hash IS NOT NULL AS pin, used_at FROM enrollment_codes"
                              " WHERE gate_id = $1", f"{event_id}-in")
    assert [tuple(r) for r in row] == [("北門平板", True, None)]
    await shoot(page, "devices")
    await context.close()


async def test_signed_in_with_a_password_the_cards_pdf_and_a_card_revocation_carry_the_session(
        browser: Any, live_system: LiveSystem) -> None:
    """No token: the admin signs in with name and password (a session cookie and its CSRF token), and the
    page's own streamed PDF request and its ordinary calls pass the gateway's CSRF check."""
    system = live_system
    ev = system.scenario(volunteers=3)
    login = await system.account("admin")
    context = await browser.new_context(viewport={"width": 1280, "height": 1000}, accept_downloads=True)
    page = await context.new_page()
    watch(page)
    await page.goto(f"{system.base_url}/kiosk/console/cards.html?event={ev.event_id}")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    await page.fill("#login-name", login)
    await page.fill("#login-password", STAFF_PASSWORD)
    await page.press("#login-password", "Enter")
    await page.wait_for_function("() => document.querySelector('#count-active').textContent === '3'", timeout=WAIT_MS)
    async with page.expect_download(timeout=120_000) as info:
        await page.click("#print-all")
    reader = pypdf.PdfReader(io.BytesIO(Path(await (await info.value).path()).read_bytes()))
    assert sum(len(p.images) for p in reader.pages) == 3
    vid = ev.cards[0][0]
    await page.fill("#one-volunteer", vid)
    await page.fill("#one-reason", "遺失")
    await page.click("#revoke")
    await page.wait_for_function("() => document.querySelector('#count-active').textContent === '2'", timeout=WAIT_MS)
    actor = await system.afetchval("SELECT actor FROM audit_log WHERE action = 'card_revoke' AND subject = $1", vid)
    assert actor == await system.afetchval("SELECT user_id FROM users WHERE login = $1", login)
    await context.close()


async def test_a_roster_on_a_slow_uplink_shows_its_progress_and_waits(browser: Any, live_system: LiveSystem,
                                                                      tmp_path: Path) -> None:
    """A city's roster is 12.6 MB of JSON: minutes on an office's uplink, during which the page said nothing and
    its buttons could be pressed again. Now the page shows how much has been sent, then that the gateway reads
    the file, with the form's buttons held; the answer comes as before."""
    system = live_system
    ev = system.scenario(volunteers=1)
    tag = ev.event_id.removeprefix("ev-")[:6]
    token = await system.arun(admin_token(system))
    context = await browser.new_context(viewport={"width": 1280, "height": 1000})
    page = await open_console(context, system, "roster.html", ev.event_id, token)
    roster = tmp_path / "slow.csv"
    roster.write_bytes(big5_roster(tag, 6000))  # about 0.9 MB of JSON
    cdp = await context.new_cdp_session(page)
    await cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 20,
                                                         "downloadThroughput": -1, "uploadThroughput": 250_000})
    await page.set_input_files("#roster-file", str(roster))
    await page.click("#roster-check")
    # Part of the way: a bar with a value, the megabytes sent, the form busy and its buttons held.
    await page.wait_for_function(
        "() => { const b = document.getElementById('roster-progress');"
        " return b.hasAttribute('value') && b.value > 0 && b.value < b.max; }", timeout=WAIT_MS)
    label = await page.inner_text("#roster-progress-label")
    assert "上傳檔案中：" in label and " MB" in label, label
    assert await page.get_attribute("#upload", "aria-busy") == "true"
    assert await page.is_disabled("#roster-check") and await page.is_disabled("#roster-import")
    await cdp.send("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                         "downloadThroughput": -1, "uploadThroughput": -1})
    await page.wait_for_selector("#roster-import:not([disabled])", timeout=WAIT_MS)
    assert await page.locator("#roster-progress-box").is_hidden()
    assert await page.get_attribute("#upload", "aria-busy") is None
    assert not await page.is_disabled("#roster-check")
    assert "6000" in (await page.inner_text("#roster-summary")).replace(",", "")
    await context.close()
