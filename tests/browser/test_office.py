"""The office page in a real Chromium: anomaly queue, timeline, a correction with its reason, approval, export."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import checkin.events.store as events
from checkin.vocabulary import Anomaly, GateMode, Reason, Verdict, Warning
from loadtest.event_factory import Scenario
from tests.browser.conftest import LiveSystem

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
TZ = ZoneInfo("Asia/Taipei")


def t(hh: int, mm: int = 0) -> datetime:
    return datetime(2024, 2, 24, hh, mm, tzinfo=TZ)


async def day_of_scans(system: LiveSystem, ev: Scenario) -> dict[str, str]:
    """A fixed day shift; the first volunteer works 09-17, the second forgets to check out. -> check-in scan ids."""
    ids = [vid for vid, _ in ev.cards[:2]]
    keys: dict[str, str] = {}
    async with system.pool.acquire() as conn:
        # dated as its scans: the office may date nothing far from the event's dates
        await conn.execute("UPDATE events SET starts_on = $2, ends_on = $2 WHERE event_id = $1", ev.event_id,
                           t(9).date())
        await events.add_shift(conn, ev.event_id, f"{ev.event_id}-day", "main", "白班", t(9), t(17), required=2)
        await events.assign(conn, ev.event_id, f"{ev.event_id}-day", ids)
        for vid, at, verdict in ((ids[0], t(9), "checked_in"), (ids[0], t(17), "checked_out"),
                                 (ids[1], t(10), "checked_in")):
            scan_id = uuid.uuid4()
            await conn.execute(
                "INSERT INTO scans (scan_id, event_id, device_id, seq, gate_id, volunteer_id, scanned_at, received_at,"
                " verdict) VALUES ($1, $2, 'dev', 1, $3, $4, $5, $5, $6)",
                scan_id, ev.event_id, f"{ev.event_id}-desk", vid, at, verdict)
            keys.setdefault(vid, str(scan_id))
    return keys


async def test_office_corrects_approves_and_exports(browser: Any, live_system: LiveSystem, artifacts: Path) -> None:
    ev = live_system.scenario(volunteers=2)
    keys = await live_system.arun(day_of_scans(live_system, ev))
    forgot = ev.cards[1][0]
    context = await browser.new_context(viewport={"width": 1280, "height": 1400}, accept_downloads=True)
    page = await context.new_page()
    page.on("pageerror", lambda err: print(f"pageerror: {err}"))
    await page.goto(f"{live_system.base_url}/kiosk/office.html#token={ev.coordinator_token}&event={ev.event_id}")

    # The queue lists the forgotten check-out with its evidence; the token left the address bar.
    row = page.locator("#anomalies tbody tr", has_text="漏簽退")
    await row.wait_for(timeout=WAIT_MS)
    assert "#token" not in page.url
    assert keys[forgot][:8] in await row.inner_text()
    assert await page.locator("#queue-count").inner_text() == "1"

    # Its timeline: the scan, the session closed at the shift's end (7 h).
    await row.locator("a").click()
    await page.wait_for_function("() => document.querySelector('#tl-hours')?.textContent === '7'", timeout=WAIT_MS)
    assert "簽到" in await page.locator("#tl-scans").inner_text()

    # A correction needs a reason: the browser refuses an empty one before anything is sent.
    await page.locator("#tl-sessions button", has_text="修改").click()
    assert await page.input_value("#c-start") == "2024-02-24T10:00"
    await page.fill("#c-end", "2024-02-24T15:30")
    await page.click("#correct button[type=submit]")
    assert await page.evaluate("document.querySelector('#c-reason').validity.valueMissing")
    assert await page.locator("#tl-corrections tbody tr").count() == 0

    await page.fill("#c-reason", "紙本簽退單 15:30")
    await page.click("#correct button[type=submit]")
    await page.locator("#tl-corrections tbody tr", has_text="紙本簽退單 15:30").wait_for(timeout=WAIT_MS)
    assert await page.locator("#tl-hours").inner_text() == "5.5"
    await page.wait_for_function("() => document.querySelector('#queue-count').textContent === '0'", timeout=WAIT_MS)
    reason = await live_system.afetchval(
        "SELECT detail->>'reason' FROM audit_log WHERE event_id = $1 AND action = 'correction_change'", ev.event_id)
    assert reason == "紙本簽退單 15:30"

    # Approve the team's day; a later correction by the coordinator is refused with the server's reason.
    await page.locator("#teams button", has_text="核定").click()
    await page.locator("#teams td.ok").wait_for(timeout=WAIT_MS)
    await page.locator("#tl-sessions button", has_text="作廢").click()
    await page.fill("#c-reason", "重複")
    await page.click("#correct button[type=submit]")
    await page.wait_for_function("() => document.querySelector('[data-testid=correct-error]').textContent.includes('此日已核定')",
                                 timeout=WAIT_MS)
    assert await page.locator("#tl-hours").inner_text() == "5.5"
    await page.screenshot(path=str(artifacts / "office.png"), full_page=True)

    # The record-book export downloads as UTF-8 with a BOM and reads back in Chinese.
    async with page.expect_download() as info:
        await page.click("[data-export=records]")
    body = Path(await (await info.value).path()).read_bytes()
    assert body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    assert lines[0][0] == "姓名"
    assert sorted((r[0], r[3]) for r in lines[1:]) == [("志工000號", "8"), ("志工001號", "5.5")]

    # A service certificate of the hours on screen downloads as a PDF; its page on the server says valid.
    async with page.expect_download() as info:
        await page.click("#tl-certificate")
    pdf = Path(await (await info.value).path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    cert_id, code = (await live_system.afetch(
        "SELECT cert_id, upper(left(fingerprint, 4)) FROM certificates WHERE event_id = $1", ev.event_id))[0]
    assert cert_id in await page.locator("#notice").inner_text()
    verifier = await context.new_page()  # what a phone shows after scanning the QR code
    await verifier.goto(f"{live_system.base_url}/v/{cert_id}")
    assert await verifier.locator("#status").get_attribute("data-status") == "valid"
    assert "5.5" in await verifier.inner_text("body") and code in await verifier.inner_text("body")
    await verifier.screenshot(path=str(artifacts / "certificate-verified.png"), full_page=True)

    await page.click("#lang")
    await page.locator("h2", has_text="Open anomalies").wait_for(timeout=WAIT_MS)
    await context.close()


async def test_a_coordinator_of_another_event_is_sent_back_to_login(browser: Any, live_system: LiveSystem) -> None:
    ev, other = live_system.scenario(volunteers=1), live_system.scenario(volunteers=1)
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live_system.base_url}/kiosk/office.html#token={other.coordinator_token}&event={ev.event_id}")
    await page.locator("#login-error", has_text="權杖無效或無權限").wait_for(timeout=WAIT_MS)
    assert await page.locator("#office").is_hidden()
    assert await page.locator("#anomalies tbody tr").count() == 0
    await context.close()


VOCABULARY = [code.value for words in (Verdict, Reason, Warning, Anomaly, GateMode) for code in words]


def raw_codes(text: str, codes: list[str]) -> list[str]:
    """The codes that stand as words of their own in the text (an id such as ev-1-in is not the mode 'in')."""
    return sorted({c for c in codes if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text)})


async def test_timeline_shows_who_undid_a_scan_and_who_scanned_by_hand(
    browser: Any, live_system: LiveSystem, artifacts: Path,
) -> None:
    ev = live_system.scenario(volunteers=2)
    vid, card = ev.cards[0]
    desk, entry = f"{ev.event_id}-desk", f"{ev.event_id}-in"
    await live_system.afetch("UPDATE gates SET name = CASE gate_id WHEN $1 THEN '服務台' ELSE '北門入口' END"
                             " WHERE gate_id IN ($1, $2)", desk, entry)
    context = await browser.new_context(viewport={"width": 1280, "height": 1400})
    api = context.request

    async def post(path: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        resp = await api.post(f"{live_system.base_url}{path}", data=body,
                              headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200, await resp.text()
        return await resp.json()  # type: ignore[no-any-return]

    # A card at the desk, undone by the coordinator with a reason; then a check-in by hand at the entry,
    # and the same again at once, which the rules count as a double scan (debounce).
    carded = await post("/api/v1/scans", ev.device_token, ev.scan(card, desk))
    await post(f"/api/v1/scans/{carded['scan_id']}/annul", ev.coordinator_token, {"reason": "借卡代刷"})
    manual = f"/api/v1/events/{ev.event_id}/manual-scans"
    by_hand = await post(manual, ev.coordinator_token, {"volunteer_id": vid, "gate_id": entry, "action": "in"})
    again = await post(manual, ev.coordinator_token, {"volunteer_id": vid, "gate_id": entry, "action": "in"})
    assert (by_hand["verdict"], again["verdict"], again["reason"]) == ("checked_in", "duplicate", "debounce")
    scan_ids = [uuid.UUID(a["scan_id"]) for a in (carded, by_hand, again)]
    for _ in range(200):
        if await live_system.afetchval("SELECT count(*) FROM scans WHERE scan_id = ANY($1)", scan_ids) == 3:
            break
        await asyncio.sleep(0.05)
    undone_at = await live_system.afetchval("SELECT at FROM annulments WHERE scan_id = $1", scan_ids[0])
    coordinator = await live_system.afetchval(
        "SELECT name FROM users WHERE event_id = $1 AND role = 'coordinator'", ev.event_id)

    page = await context.new_page()
    page.on("pageerror", lambda err: print(f"pageerror: {err}"))
    await page.goto(f"{live_system.base_url}/kiosk/office/#token={ev.coordinator_token}&event={ev.event_id}")
    await page.fill("#lookup-id", vid)
    await page.click("#lookup button[type=submit]")
    rows = page.locator("#tl-scans tbody tr")
    await page.wait_for_function("() => document.querySelectorAll('#tl-scans tbody tr').length === 3", timeout=WAIT_MS)

    undone = await rows.nth(0).inner_text()
    assert await rows.nth(0).get_attribute("data-annulled") == "true"
    assert "簽到（已撤銷）" in undone and "服務台" in undone
    assert f"{coordinator} · {undone_at.astimezone(TZ):%m/%d %H:%M} · 借卡代刷" in undone
    manual_row = await rows.nth(1).inner_text()
    assert await rows.nth(1).get_attribute("data-annulled") is None
    assert "北門入口" in manual_row and f"人工操作：{coordinator}" in manual_row
    assert "重複刷卡" in await rows.nth(2).inner_text() and "短時間內重複刷卡" in await rows.nth(2).inner_text()
    await page.screenshot(path=str(artifacts / "office-timeline-annulled-manual.png"), full_page=True)
    body = await page.inner_text("body")
    assert raw_codes(body, VOCABULARY) == [] and "[object Object]" not in body
    # A refusal in the page's language too: no such volunteer is the gateway's message_zh, not its English.
    before = await page.inner_text("#notice")
    await page.fill("#lookup-id", "NOBODY-AT-ALL")
    await page.click("#lookup button[type=submit]")
    await page.wait_for_function("(before) => document.querySelector('#notice').textContent !== before", arg=before,
                                 timeout=WAIT_MS)
    assert await page.inner_text("#notice") == "找不到"

    # In English: the same facts in words, still no code.
    await page.click("#lang")
    await page.locator("#tl-scans th", has_text="Undone").wait_for(timeout=WAIT_MS)
    assert "Check-in (undone)" in await rows.nth(0).inner_text()
    assert f"By hand: {coordinator}" in await rows.nth(1).inner_text()
    assert "Scanned again within moments" in await rows.nth(2).inner_text()
    english = await page.inner_text("body")
    assert raw_codes(english, [c for c in VOCABULARY if "_" in c]) == []
    assert not re.search(r"\((?:auto|entry|exit)\)", english)
    await context.close()
