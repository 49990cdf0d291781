"""The team leads' page in a real Chromium: a team lead opens it with their token link, sees their members, ticks the
absent ones and checks them in as a group, then reads the team's report; the scans are read back from Postgres."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from checkin.access.operations import add_team_lead
from loadtest.event_factory import Scenario
from tests.browser.conftest import REPO, LiveSystem
from tests.browser.test_dashboard import post_scans
from tests.browser.test_kiosk import watch

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
SHOTS = REPO / "docs" / "console"


async def team_lead(system: LiveSystem, sc: Scenario) -> str:
    async def add() -> str:
        async with system.pool.acquire() as conn:
            return (await add_team_lead(conn, "隊長", sc.event_id, "T-" + sc.event_id.removeprefix("ev-")))[1]

    return await system.arun(add())


async def open_team(context: Any, system: LiveSystem, sc: Scenario, token: str) -> Any:
    page = await context.new_page()
    watch(page)
    await page.goto(f"{system.base_url}/kiosk/team/#token={token}&event={sc.event_id}")
    await page.wait_for_selector("body[data-ready=true] #members tbody tr", timeout=WAIT_MS)
    return page


async def test_a_team_lead_checks_in_the_absent_members_and_reads_the_report(browser: Any, live_system: LiveSystem,
                                                                            artifacts: Path) -> None:
    from tests.browser.test_dashboard import gateway_knows_the_test_key
    await gateway_knows_the_test_key(live_system)
    sc = live_system.scenario(volunteers=4)
    await post_scans(live_system, sc, [sc.cards[0][1]])  # one member is already on site
    token = await team_lead(live_system, sc)
    SHOTS.mkdir(exist_ok=True)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await open_team(context, live_system, sc, token)
    assert await page.locator("#members tbody tr").count() == 4
    assert await page.inner_text("#present-count") == "在場 1 / 4 人"

    await page.click("#select-absent")
    ticked = await page.eval_on_selector_all("#members input:checked", "boxes => boxes.map(b => b.value)")
    assert sorted(ticked) == sorted(vid for vid, _ in sc.cards[1:])
    await page.select_option("#gate", f"{sc.event_id}-in")
    await page.click("#group-form button[type=submit]")
    await page.wait_for_function("() => document.getElementById('present-count').textContent === '在場 4 / 4 人'",
                                 timeout=WAIT_MS)
    assert "3 人簽到" in await page.inner_text("#notice")
    results = await page.eval_on_selector_all("#members tbody tr", "rows => rows.map(r => r.querySelector('.result').textContent)")
    assert sorted(results) == ["", "簽到", "簽到", "簽到"]
    await page.wait_for_function("""() => [...document.querySelectorAll('#report tbody tr')]
      .filter(r => r.textContent.includes('隊長整隊')).length === 3""", timeout=WAIT_MS)
    await page.screenshot(path=str(SHOTS / "team.png"), full_page=True)

    stored = await live_system.afetch("SELECT volunteer_id, gate_id, source, verdict FROM scans WHERE event_id = $1"
                                      " AND source = 'group'", sc.event_id)
    assert sorted((r["volunteer_id"], r["gate_id"], r["verdict"]) for r in stored) == sorted(
        (vid, f"{sc.event_id}-in", "checked_in") for vid, _ in sc.cards[1:])
    await context.close()
