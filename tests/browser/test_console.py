"""The office console's event pages in a real Chromium, through the pages alone: an admin creates an event with
2 zones, 3 gates and 2 shifts, sees problems beside the fields they are about, opens the event after the
confirmation, and downloads and uploads its plan; Postgres is then asked what was made. The screenshots are
docs/console/*.png (docs/console.md)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from checkin.access.accounts import add_user
from tests.browser.conftest import REPO, LiveSystem
from tests.browser.test_kiosk import watch

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
SHOTS = REPO / "docs" / "console"


async def admin_token(system: LiveSystem) -> tuple[str, str]:
    async def make() -> tuple[str, str]:
        async with system.pool.acquire() as conn:
            return await add_user(conn, "辦公室管理員", "admin", None)

    return await system.arun(make())


async def add_row(page: Any, section: str, cells: dict[str, str]) -> Any:
    """Adds a row to a table with the keyboard's own controls and saves it; returns the new row."""
    await page.click(f"#add-{section[:-1]}")
    row = page.locator(f"#{section} tbody tr").last
    for name, value in cells.items():
        control = row.locator(f"[data-field={name}]")
        if await control.evaluate("(node) => node.tagName") == "SELECT":
            await control.select_option(value)
        else:
            await control.fill(value)
    await row.locator("button.save").click()
    return row


async def saved(page: Any, section: str, row_id: str) -> None:
    await page.wait_for_selector(f"#{section} tr[data-row='{row_id}']", timeout=WAIT_MS)


async def test_an_admin_sets_up_and_opens_an_event_through_the_pages(browser: Any, live_system: LiveSystem) -> None:
    user_id, token = await admin_token(live_system)
    ev = f"fest-{secrets.token_hex(3)}"
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = await browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = await context.new_page()
    watch(page)
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))

    # The front page: a new event, refused first for its dates (shown beside the last day), then made.
    await page.goto(f"{live_system.base_url}/kiosk/console/#token={token}")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    assert "#token" not in page.url
    form = page.locator("#new-event")
    await form.locator("[data-field=id]").fill(ev)
    await form.locator("[data-field=name]").fill("2024 台灣燈會（測試）")
    await form.locator("[data-field=starts_on]").fill("2024-02-24")
    await form.locator("[data-field=ends_on]").fill("2024-02-20")
    await form.locator("button[type=submit]").click()
    await page.wait_for_selector("#new-event [data-field=ends_on][aria-invalid=true]", timeout=WAIT_MS)
    # In the page's language: the gateway words plan problems in both (message_zh).
    assert "早於開始日" in await page.locator("#new-event [data-field=ends_on] + .field-error").inner_text()
    await form.locator("[data-field=ends_on]").fill("2024-02-25")
    await form.locator("button[type=submit]").click()
    link = page.locator(f"#events tr[data-event='{ev}'] a")
    await link.wait_for(timeout=WAIT_MS)
    assert "籌備中" in await page.locator(f"#events tr[data-event='{ev}']").inner_text()
    await page.screenshot(path=str(SHOTS / "index.png"), full_page=True)

    # The event page, reached by its link: the token came along in this browser's storage.
    await link.click()
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await page.wait_for_selector("#status[data-status=draft]", timeout=WAIT_MS)
    assert await page.input_value("#set-debounce_s") == "60"

    for zone, name in (("north", "北區"), ("south", "南區")):
        await add_row(page, "zones", {"id": f"{ev}-{zone}", "name": name})
        await saved(page, "zones", f"{ev}-{zone}")
    for gate, zone, mode in (("n1", "north", "entry"), ("n2", "north", "exit"), ("s1", "south", "auto")):
        await add_row(page, "gates", {"id": f"{ev}-{gate}", "zone_id": f"{ev}-{zone}", "name": f"{gate} 門", "mode": mode})
        await saved(page, "gates", f"{ev}-{gate}")

    # A shift that ends before it starts and needs -1 volunteers: both problems shown beside their fields.
    row = await add_row(page, "shifts", {"id": f"{ev}-am", "zone_id": f"{ev}-north", "name": "早班",
                                         "starts_at": "2024-02-24T13:00", "ends_at": "2024-02-24T09:00",
                                         "required": "-1"})
    await page.wait_for_selector("#shifts [data-field=ends_at][aria-invalid=true]", timeout=WAIT_MS)
    assert await row.locator("[data-field=required]").get_attribute("aria-invalid") == "true"
    assert "沒有晚於開始時間" in await row.inner_text()
    await row.locator("[data-field=starts_at]").fill("2024-02-24T09:00")
    await row.locator("[data-field=ends_at]").fill("2024-02-24T13:00")
    await row.locator("[data-field=required]").fill("12")
    await row.locator("button.save").click()
    await saved(page, "shifts", f"{ev}-am")
    await add_row(page, "shifts", {"id": f"{ev}-pm", "zone_id": f"{ev}-south", "name": "晚班",
                                   "starts_at": "2024-02-24T17:00", "ends_at": "2024-02-24T22:30", "required": "8"})
    await saved(page, "shifts", f"{ev}-pm")

    # A setting out of range is marked where it is; the right value is saved.
    await page.fill("#set-debounce_s", "-5")
    await page.click("#event-form button[type=submit]")
    await page.wait_for_selector("#set-debounce_s[aria-invalid=true]", timeout=WAIT_MS)
    # The rule itself in the page's language, not only a Chinese lead-in before the English one.
    said = await page.locator("#set-debounce_s + .field-error").inner_text()
    assert "須為 0 以上的整數" in said and "must" not in said, said
    await page.fill("#set-debounce_s", "90")
    await page.select_option("#set-insurance", "block")
    await page.click("#event-form button[type=submit]")
    await page.wait_for_selector("#set-debounce_s:not([aria-invalid])", timeout=WAIT_MS)
    await page.wait_for_function("() => document.querySelector('#event-notice').textContent !== ''", timeout=WAIT_MS)

    # Opening asks first, and says what the gates will do.
    await page.click("#open-event")
    await page.wait_for_selector("#confirm[open]", timeout=WAIT_MS)
    assert "接受刷卡" in await page.locator("#confirm-text").inner_text()
    await page.screenshot(path=str(SHOTS / "open-confirm.png"))
    await page.click("#confirm-no")
    assert await page.get_attribute("#status", "data-status") == "draft"
    await page.click("#open-event")
    await page.click("#confirm-yes")
    await page.wait_for_selector("#status[data-status=open]", timeout=WAIT_MS)
    await page.screenshot(path=str(SHOTS / "event.png"), full_page=True)

    # The plan: downloaded, then a broken copy uploaded: every problem listed, nothing written.
    async with page.expect_download() as info:
        await page.click("#plan-download")
    plan = json.loads(Path(await (await info.value).path()).read_text(encoding="utf-8"))
    assert (len(plan["zones"]), len(plan["gates"]), len(plan["shifts"])) == (2, 3, 2)
    bad = {**plan, "event": {**plan["event"], "name": "不該寫入"},
           "gates": [{**plan["gates"][0], "mode": "sideways"}, *plan["gates"][1:]]}
    await page.set_input_files("#plan-file", files=[{"name": "plan.json", "mimeType": "application/json",
                                                     "buffer": json.dumps(bad, ensure_ascii=False).encode()}])
    await page.click("#plan-upload")
    await page.wait_for_function("() => document.querySelector('#plan-error').textContent.includes('gates[0].mode')",
                                 timeout=WAIT_MS)
    assert "不是 entry、exit、auto 其中之一" in await page.inner_text("#plan-error")
    await page.locator("#plan-panel").screenshot(path=str(SHOTS / "plan-problems.png"))

    # English at the press of a button: the headings, the bar and each setting's explanation.
    await page.click("#lang")
    await page.wait_for_function("() => document.documentElement.lang === 'en'", timeout=WAIT_MS)
    assert await page.locator("h1 [data-i18n=title]").inner_text() == "Event setup"
    assert "duplicate" in await page.locator("#settings tbody tr").first.inner_text()
    assert await page.locator("#console-nav [aria-current=page]").inner_text() == "Event setup"
    assert errors == []
    await context.close()

    # What Postgres holds: exactly what was entered through the pages.
    event = (await live_system.afetch("SELECT name, status, policy FROM events WHERE event_id = $1", ev))[0]
    assert (event["name"], event["status"]) == ("2024 台灣燈會（測試）", "open")
    assert json.loads(event["policy"])["debounce_s"] == 90 and json.loads(event["policy"])["insurance"] == "block"
    assert [(r["zone_id"], r["name"]) for r in await live_system.afetch(
        "SELECT zone_id, name FROM zones WHERE event_id = $1 ORDER BY zone_id", ev)] == \
        [(f"{ev}-north", "北區"), (f"{ev}-south", "南區")]
    assert [(r["gate_id"], r["mode"]) for r in await live_system.afetch(
        "SELECT gate_id, mode FROM gates WHERE event_id = $1 ORDER BY gate_id", ev)] == \
        [(f"{ev}-n1", "entry"), (f"{ev}-n2", "exit"), (f"{ev}-s1", "auto")]
    shifts = await live_system.afetch("SELECT shift_id, zone_id, required, starts_at, ends_at FROM shifts"
                                      " WHERE event_id = $1 ORDER BY starts_at", ev)
    assert [(r["shift_id"], r["zone_id"], r["required"]) for r in shifts] == \
        [(f"{ev}-am", f"{ev}-north", 12), (f"{ev}-pm", f"{ev}-south", 8)]
    assert shifts[0]["starts_at"].isoformat() == "2024-02-24T01:00:00+00:00"  # 09:00 in Taipei
    actors = {r["actor"] for r in await live_system.afetch("SELECT actor FROM audit_log WHERE event_id = $1", ev)}
    assert actors == {user_id}
    assert await live_system.afetchval("SELECT count(*) FROM audit_log WHERE event_id = $1 AND action = 'event_open'",
                                       ev) == 1
