"""The dashboard's operations views in a real Chromium: who is past the rest limits, and the refused-scan report
by gate and hour whose counts open the scans behind them, with its CSV; each read back against Postgres."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from checkin.cards.store import revoke_card
from checkin.scan.rules import Policy
from loadtest.event_factory import Scenario
from tests.browser.conftest import REPO, LiveSystem
from tests.browser.test_dashboard import gateway_knows_the_test_key
from tests.browser.test_kiosk import watch

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
SHOTS = REPO / "docs" / "console"


async def scans(system: LiveSystem, sc: Scenario, bodies: list[dict[str, object]], batch: bool = False) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {sc.device_token}"}
    answers = []
    async with aiohttp.ClientSession() as http:
        if batch:
            async with http.post(f"{system.base_url}/api/v1/scans/batch", headers=auth, json={"scans": bodies}) as resp:
                assert resp.status == 200, await resp.text()
                return list((await resp.json())["results"])
        for body in bodies:
            async with http.post(f"{system.base_url}/api/v1/scans", headers=auth, json=body) as resp:
                assert resp.status == 200, await resp.text()
                answers.append(await resp.json())
    return answers


async def clear_of_the_hour_turn(margin_s: float = 30.0) -> None:
    """Wait past the next hour's turn when it is closer than `margin_s`: the refused scans are counted by hour
    (Taipei's hours turn with UTC's), and the test expects them in one hour's cell."""
    now = datetime.now(UTC)
    left = 3600 - (now.minute * 60 + now.second + now.microsecond / 1e6)
    if left < margin_s:
        await asyncio.sleep(left + 1)


async def make_day(system: LiveSystem) -> tuple[Scenario, str]:
    """One volunteer 90 minutes on site under a 60-minute limit, one just arrived; refused cards at the desk."""
    await clear_of_the_hour_turn()
    await gateway_knows_the_test_key(system)
    sc = system.scenario(volunteers=4, policy=Policy(debounce_s=0, max_continuous_min=60))
    other = system.scenario(volunteers=1)
    desk = f"{sc.event_id}-desk"
    tired = await scans(system, sc, [sc.scan(sc.cards[1][1], desk, datetime.now(UTC) - timedelta(minutes=90))],
                        batch=True)
    assert tired[0]["verdict"] == "checked_in"

    async def revoke() -> None:
        async with system.pool.acquire() as conn:
            await revoke_card(conn, system.redis, system.keys, sc.cards[3][1].split(".")[2], "lost")

    await system.arun(revoke())
    answers = await scans(system, sc, [sc.scan(sc.cards[2][1], desk), sc.scan(other.cards[0][1], desk),
                                       sc.scan(other.cards[0][1], desk), sc.scan(sc.cards[3][1], desk)])
    assert [a["reason"] for a in answers] == [None, "not_on_roster", "not_on_roster", "revoked"]
    ids = [a["scan_id"] for a in answers]
    for _ in range(200):  # the recorder stores them within moments
        if await system.afetchval("SELECT count(*) FROM scans WHERE scan_id::text = any($1)", ids) == len(ids):
            break
        await asyncio.sleep(0.05)
    return sc, sc.cards[1][0]


async def open_dashboard(context: Any, system: LiveSystem, sc: Scenario) -> Any:
    page = await context.new_page()
    watch(page)
    await page.goto(f"{system.base_url}/kiosk/dashboard/#token={sc.coordinator_token}&event={sc.event_id}")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    return page


async def test_rest_limits_and_the_refused_report_with_its_scans_and_csv(browser: Any, live_system: LiveSystem,
                                                                        artifacts: Path) -> None:
    sc, tired = await make_day(live_system)
    SHOTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 1280, "height": 1600}, accept_downloads=True)
    page = await open_dashboard(context, live_system, sc)

    await page.wait_for_selector(f"#rest tbody tr[data-volunteer='{tired}']", timeout=WAIT_MS)
    assert await page.inner_text("#rest-count") == "1"
    assert await page.locator("#rest tbody tr").count() == 1  # the one who just arrived is not listed
    assert "志工001號" in await page.inner_text("#rest tbody tr")

    desk = f"{sc.event_id}-desk"
    counts = await live_system.afetch(
        "SELECT to_char(date_trunc('hour', scanned_at AT TIME ZONE 'Asia/Taipei'), 'YYYY-MM-DD\"T\"HH24:MI') AS hour,"
        " reason, count(*) AS n FROM scans WHERE event_id = $1 AND verdict = 'rejected' GROUP BY 1, 2", sc.event_id)
    assert sorted((r["reason"], r["n"]) for r in counts) == [("not_on_roster", 2), ("revoked", 1)]
    hour = counts[0]["hour"]
    button = page.locator(f"#refused button[data-gate='{desk}'][data-hour='{hour}'][data-reason=not_on_roster]")
    await button.wait_for(timeout=WAIT_MS)
    assert await button.inner_text() == "2"
    revoked = page.locator(f"#refused button[data-gate='{desk}'][data-reason=revoked]")
    assert await revoked.inner_text() == "1"
    await button.focus()
    await page.keyboard.press("Enter")  # by keyboard, as a person at a desk would
    await page.wait_for_selector("#refused-scans:not([hidden]) tbody tr", timeout=WAIT_MS)
    shown = await page.eval_on_selector_all("#refused-scans tbody tr", "rows => rows.map(r => r.dataset.scanId)")
    behind = await live_system.afetch("SELECT scan_id::text FROM scans WHERE event_id = $1 AND reason = 'not_on_roster'"
                                      " ORDER BY scanned_at, scan_id", sc.event_id)
    assert shown == [r["scan_id"] for r in behind]
    assert await page.evaluate("() => document.activeElement.id") == "refused-scans-title"
    await page.screenshot(path=str(SHOTS / "dashboard-operations.png"), full_page=True)

    async with page.expect_download() as download_info:
        await page.click("#refused-csv")
    download = await download_info.value
    data = Path(await download.path()).read_bytes()
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert {(r[0].replace(" ", "T"), r[3]): int(r[5]) for r in rows[1:]} == {
        (r["hour"], r["reason"]): r["n"] for r in counts}
    await context.close()
