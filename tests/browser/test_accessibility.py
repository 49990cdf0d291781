"""axe-core (vendored in kiosk/vendor/axe-core/) on every page, logged in as its users are: no serious or
critical violation. The test puts axe into the page; no page loads it itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from checkin.cards.links import card_url
from tests.browser.conftest import REPO, STAFF_PASSWORD, LiveSystem
from tests.browser.test_card_page import _link
from tests.browser.test_console import admin_token
from tests.browser.test_console_notes import open_notes, set_note
from tests.browser.test_console_setup import admin_token as setup_admin
from tests.browser.test_console_setup import open_console
from tests.browser.test_dashboard import gateway_knows_the_test_key, post_scans
from tests.browser.test_dashboard_operations import make_day, open_dashboard
from tests.browser.test_kiosk import answer, device_record, open_kiosk, watch, wedge
from tests.browser.test_office import day_of_scans
from tests.browser.test_team_page import open_team, team_lead

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
AXE = REPO / "kiosk" / "vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}
TABLET = {"width": 800, "height": 1280}  # a 10-inch tablet upright
# Every rule axe has for WCAG 2.x A and AA, and its best practices; only serious and critical ones fail.
RUN_AXE = """async () => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(" ")}: ${n.failureSummary.split("\\n").slice(1).join(" ")}`),
  }));
}"""


async def serious_violations(page: Any) -> list[dict[str, Any]]:
    # Evaluated over the DevTools protocol, which the page's CSP does not govern (a <script> added to the
    # page, as add_script_tag does, is refused by script-src 'self' like any other inline script).
    await page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    assert await page.evaluate("() => typeof axe === 'object' && typeof axe.run === 'function'")
    return await page.evaluate(RUN_AXE)


async def check(page: Any, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"a11y-{name}.png"), full_page=True)
    found = await serious_violations(page)
    assert found == [], "\n".join(f"{v['impact']} {v['id']}: {v['help']}\n  " + "\n  ".join(v["nodes"]) for v in found)


async def test_axe_finds_a_known_violation(browser: Any, live_system: LiveSystem) -> None:
    """The checker itself works here: an image button without a name is a critical violation."""
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{live_system.base_url}/kiosk/card/")
    await page.evaluate("() => document.body.append(Object.assign(document.createElement('button'), {}))")
    assert "button-name" in [v["id"] for v in await serious_violations(page)]
    await context.close()


Opener = Callable[[Any, LiveSystem], Awaitable[Any]]


async def _gate_enrolment(context: Any, system: LiveSystem) -> Any:
    return await open_kiosk(context, system.base_url, None)


async def _gate_answer(context: Any, system: LiveSystem) -> Any:
    await gateway_knows_the_test_key(system)
    scenario = system.scenario(volunteers=1)
    page = await open_kiosk(context, system.base_url, device_record(system, scenario))
    await wedge(page, scenario.cards[0][1])
    await answer(page, "checked_in")
    return page


async def _gate_refusal(context: Any, system: LiveSystem) -> Any:
    await gateway_knows_the_test_key(system)
    scenario = system.scenario(volunteers=1)
    other = system.scenario(volunteers=1)
    page = await open_kiosk(context, system.base_url, device_record(system, scenario))
    await wedge(page, other.cards[0][1])  # a card of another event: the red refusal screen
    await answer(page, "rejected")
    return page


async def _gate_duplicate(context: Any, system: LiveSystem) -> Any:
    await gateway_knows_the_test_key(system)
    scenario = system.scenario(volunteers=1)  # the default debounce: a second scan at once is a duplicate
    page = await open_kiosk(context, system.base_url, device_record(system, scenario))
    await wedge(page, scenario.cards[0][1])
    await answer(page, "checked_in")
    await wedge(page, scenario.cards[0][1])
    await answer(page, "duplicate")
    return page


async def _dashboard_login(context: Any, system: LiveSystem) -> Any:
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/dashboard/")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    return page


async def _dashboard_live(context: Any, system: LiveSystem) -> Any:
    await gateway_knows_the_test_key(system)
    scenario = system.scenario(volunteers=4)
    await post_scans(system, scenario, [scenario.cards[0][1]])
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/dashboard/#token={scenario.coordinator_token}&event={scenario.event_id}")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await page.wait_for_selector("#shifts tbody tr", timeout=WAIT_MS)
    return page


async def _coordinator(context: Any, system: LiveSystem) -> Any:
    scenario = system.scenario(volunteers=3)
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/coordinator/#token={scenario.coordinator_token}&event={scenario.event_id}")
    await page.wait_for_selector("body[data-ready=true]", timeout=WAIT_MS)
    await page.fill("#q", "志工")
    await page.press("#q", "Enter")
    await page.wait_for_selector("#results li button[data-action=in]", timeout=WAIT_MS)
    await page.click("#results li button[data-action=in]")
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=WAIT_MS)
    return page


async def _office(context: Any, system: LiveSystem) -> Any:
    scenario = system.scenario(volunteers=2)
    await system.arun(day_of_scans(system, scenario))
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/office/#token={scenario.coordinator_token}&event={scenario.event_id}")
    row = page.locator("#anomalies tbody tr", has_text="漏簽退")
    await row.wait_for(timeout=WAIT_MS)
    await row.locator("a").click()  # the volunteer's timeline opens beside the queue
    await page.wait_for_function("() => document.querySelector('#tl-hours')?.textContent === '7'", timeout=WAIT_MS)
    return page


async def _card(context: Any, system: LiveSystem) -> Any:
    scenario = system.scenario(volunteers=1)
    token, _ = await system.arun(_link(system, scenario.cards[0][0]))
    page = await context.new_page()
    await page.goto(card_url(system.base_url, token))
    await page.wait_for_selector("#qr svg path", timeout=WAIT_MS)
    return page


async def _console_events(context: Any, system: LiveSystem) -> Any:
    system.scenario(volunteers=1)  # at least one event in the list
    _, token = await admin_token(system)
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/console/#token={token}")
    await page.wait_for_selector("body[data-ready=true] #events tbody tr", timeout=WAIT_MS)
    return page


async def _console_event(context: Any, system: LiveSystem) -> Any:
    scenario = system.scenario(volunteers=2)  # an open event with zones, gates and shifts
    _, token = await admin_token(system)
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/console/event.html?event={scenario.event_id}#token={token}")
    await page.wait_for_selector("body[data-ready=true] #shifts tbody tr", timeout=WAIT_MS)
    await page.click("#add-shift")  # a new row's controls are named too
    return page


async def _people(context: Any, system: LiveSystem) -> Any:
    """The console's People page signed in as an admin, with a link just made for a new coordinator."""
    scenario = system.scenario(volunteers=1)
    admin = await system.account("admin")
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/console/people.html?event={scenario.event_id}")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    await page.fill("#login-name", admin)
    await page.fill("#login-password", STAFF_PASSWORD)
    await page.press("#login-password", "Enter")
    await page.wait_for_selector("#people-page:not([hidden])", timeout=WAIT_MS)
    await page.fill("#add-name", "陳協調")
    await page.fill("#add-login", f"a11y-{scenario.event_id}")
    await page.click("#add button[type=submit]")
    await page.wait_for_selector("#link:not([hidden])", timeout=WAIT_MS)
    return page


async def _people_login(context: Any, system: LiveSystem) -> Any:
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/console/people.html")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)
    return page


async def _password(context: Any, system: LiveSystem) -> Any:
    """The set-password page with a refusal shown (a password too short)."""
    page = await context.new_page()
    await page.goto(f"{system.base_url}/kiosk/console/password.html#code=not-a-real-code")
    await page.fill("#password", "short")
    await page.fill("#again", "short")
    await page.click("#choose button[type=submit]")
    await page.locator("#error", has_text="10").wait_for(timeout=WAIT_MS)
    return page


async def _console(context: Any, system: LiveSystem, page_file: str) -> Any:
    scenario = system.scenario(volunteers=3)
    return await open_console(context, system, page_file, scenario.event_id, await system.arun(setup_admin(system)))


async def _console_roster(context: Any, system: LiveSystem) -> Any:
    page = await _console(context, system, "roster.html")
    await page.fill("#q", "志工")
    await page.press("#q", "Enter")
    await page.wait_for_selector("#results tbody tr", timeout=WAIT_MS)
    return page


async def _console_cards(context: Any, system: LiveSystem) -> Any:
    page = await _console(context, system, "cards.html")
    await page.wait_for_selector("#teams tbody tr", timeout=WAIT_MS)
    return page


async def _console_devices(context: Any, system: LiveSystem) -> Any:
    page = await _console(context, system, "devices.html")
    await page.click("#enrol button[type=submit]")  # the link and its QR code shown
    await page.wait_for_selector("#enrol-link img.qr", timeout=WAIT_MS)
    return page


async def _console_notes(context: Any, system: LiveSystem) -> Any:
    scenario = system.scenario(volunteers=2)
    page = await open_notes(context, system, scenario)
    await set_note(page, "team", "T-" + scenario.event_id.removeprefix("ev-"), "請先到 B 帳篷領背心")
    await page.wait_for_selector("#notes-table tbody tr", timeout=WAIT_MS)
    await set_note(page, "volunteer", scenario.cards[0][0], "電話 0912345678")  # the refusal shown, too
    await page.wait_for_function("() => document.getElementById('note-error').textContent !== ''", timeout=WAIT_MS)
    return page


async def _dashboard_operations(context: Any, system: LiveSystem) -> Any:
    scenario, tired = await make_day(system)
    page = await open_dashboard(context, system, scenario)
    await page.wait_for_selector(f"#rest tbody tr[data-volunteer='{tired}']", timeout=WAIT_MS)
    await page.click("#refused button[data-reason=not_on_roster]")
    await page.wait_for_selector("#refused-scans:not([hidden]) tbody tr", timeout=WAIT_MS)
    return page


async def _team(context: Any, system: LiveSystem) -> Any:
    scenario = system.scenario(volunteers=3)
    page = await open_team(context, system, scenario, await team_lead(system, scenario))
    await page.click("#select-absent")
    return page


PAGES: dict[str, tuple[Opener, dict[str, int]]] = {
    "gate-enrol": (_gate_enrolment, LAPTOP),
    "gate-answer": (_gate_answer, LAPTOP),
    "gate-refusal": (_gate_refusal, PHONE),
    "gate-duplicate": (_gate_duplicate, PHONE),
    "dashboard-login": (_dashboard_login, PHONE),
    "dashboard-live": (_dashboard_live, PHONE),
    "coordinator": (_coordinator, PHONE),
    "office": (_office, LAPTOP),
    "card": (_card, PHONE),
    "console-events": (_console_events, LAPTOP),
    "console-event": (_console_event, LAPTOP),
    "console-event-tablet": (_console_event, TABLET),
    "console-people-login": (_people_login, PHONE),
    "console-people": (_people, LAPTOP),
    "console-password": (_password, PHONE),
    "console-roster": (_console_roster, LAPTOP),
    "console-cards": (_console_cards, LAPTOP),
    "console-devices": (_console_devices, LAPTOP),
    "console-notes": (_console_notes, LAPTOP),
    "dashboard-operations": (_dashboard_operations, LAPTOP),
    "team": (_team, PHONE),
}


@pytest.mark.parametrize("name", list(PAGES))
async def test_no_serious_accessibility_violations(name: str, browser: Any, live_system: LiveSystem,
                                                   artifacts: Path) -> None:
    opener, viewport = PAGES[name]
    context = await browser.new_context(viewport=viewport)
    page = await opener(context, live_system)
    watch(page)
    await check(page, artifacts, name)
    await context.close()
