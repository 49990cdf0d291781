"""The coordinators' dashboard in a real Chromium, fed by scans posted through the API."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from checkin.vocabulary import Anomaly, GateMode, Reason, Verdict, Warning
from loadtest.event_factory import Scenario
from tests.browser.conftest import STAFF_PASSWORD, LiveSystem

pytestmark = pytest.mark.browser
WAIT_MS = 20_000
VOCABULARY = [code.value for words in (Verdict, Reason, Warning, Anomaly, GateMode) for code in words]


def watch(page: Any) -> None:
    page.on("console", lambda msg: print(f"console.{msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: print(f"pageerror: {err}"))


async def post_scans(system: LiveSystem, scenario: Scenario, cards: list[str]) -> None:
    auth = {"Authorization": f"Bearer {scenario.device_token}"}
    async with aiohttp.ClientSession() as http:
        for card in cards:
            async with http.post(f"{system.base_url}/api/v1/scans", headers=auth,
                                 json=scenario.scan(card, f"{scenario.event_id}-desk")) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["verdict"] == "checked_in"


async def gateway_knows_the_test_key(system: LiveSystem) -> None:
    """A gateway started before the tests' signing key existed learns it on its next key refresh (30 s)."""
    probe = system.scenario(volunteers=1)
    async with aiohttp.ClientSession() as http:
        for _ in range(45):
            async with http.post(f"{system.base_url}/api/v1/scans", json=probe.scan(probe.cards[0][1], f"{probe.event_id}-desk"),
                                 headers={"Authorization": f"Bearer {probe.device_token}"}) as resp:
                if (await resp.json())["verdict"] != "rejected":
                    return
            await asyncio.sleep(1)
    raise AssertionError("the gateway never accepted the tests' signing key")


async def text_is(page: Any, selector: str, value: str) -> None:
    await page.wait_for_function("([s, v]) => document.querySelector(s)?.textContent.trim() === v",
                                 arg=[selector, value], timeout=WAIT_MS)


async def test_dashboard_follows_scans_live(browser, live_system: LiveSystem, artifacts: Path) -> None:
    await gateway_knows_the_test_key(live_system)
    scenario = live_system.scenario(volunteers=12)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/dashboard.html"
                    f"#token={scenario.coordinator_token}&event={scenario.event_id}")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    assert "token" not in page.url  # taken out of the address bar once stored
    await text_is(page, "#on-site", "0")
    zone = "#zones tr[data-zone=main]"
    assert await page.get_attribute(zone, "data-status") == "short"
    await text_is(page, f"{zone} td:nth-child(3)", "12")
    await text_is(page, "#missing-count", "12")

    await post_scans(live_system, scenario, [card for _, card in scenario.cards[:5]])
    await text_is(page, "#on-site", "5")
    await text_is(page, f"{zone} td:nth-child(2)", "5")
    await text_is(page, "#in-today", "5")
    await text_is(page, "#missing-count", "7")
    assert await page.get_attribute(zone, "data-status") == "short"
    missing = await page.inner_text("#missing")
    assert "志工000號" not in missing and "志工011號" in missing

    await post_scans(live_system, scenario, [card for _, card in scenario.cards[5:10]])
    await text_is(page, "#on-site", "10")
    await page.wait_for_selector(f"{zone}[data-status=low]", timeout=WAIT_MS)  # 10 of 12: low, not short
    bars = await page.eval_on_selector_all("#chart rect.in", "rects => rects.map(r => Number(r.getAttribute('height')))")
    assert len(bars) == 24 and sum(1 for h in bars if h > 0) >= 1  # the hours of the service day
    await page.screenshot(path=str(artifacts / "dashboard-1280.png"), full_page=True)

    await page.click("#lang")
    await text_is(page, ".big span", "On site now")
    await text_is(page, "#conn", "Live")
    await page.screenshot(path=str(artifacts / "dashboard-1280-en.png"), full_page=True)
    await context.close()


async def test_login_form_and_refused_sign_in(browser, live_system: LiveSystem, artifacts: Path) -> None:
    scenario = live_system.scenario(volunteers=3)
    other = live_system.scenario(volunteers=1)
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/dashboard.html")
    await page.wait_for_selector("#login:not([hidden])", timeout=WAIT_MS)

    stranger = await live_system.account("coordinator", other.event_id)  # a coordinator of another event
    coordinator = await live_system.account("coordinator", scenario.event_id)
    await page.fill("#login-event", scenario.event_id)
    await page.fill("#login-name", coordinator)
    await page.fill("#login-password", "not the password")
    await page.click("#login button[type=submit]")
    await page.locator("#login-error", has_text="帳號或密碼不正確").wait_for(timeout=WAIT_MS)

    await page.fill("#login-name", stranger)
    await page.fill("#login-password", STAFF_PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#conn[data-state=denied]", timeout=WAIT_MS)
    assert await page.is_visible("#login")
    assert (await page.inner_text("#login-error")).strip() == "權杖無效或無權限"

    await page.fill("#login-name", coordinator)
    await page.fill("#login-password", STAFF_PASSWORD)
    await page.click("#login button[type=submit]")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await text_is(page, "#missing-count", "3")
    await page.reload()  # the session is remembered
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await page.screenshot(path=str(artifacts / "dashboard-390.png"), full_page=True)
    await context.close()


async def test_gates_are_shown_by_name_and_no_code_reaches_the_board(browser, live_system: LiveSystem) -> None:
    await gateway_knows_the_test_key(live_system)
    scenario = live_system.scenario(volunteers=2)
    names = {f"{scenario.event_id}-in": "北門入口", f"{scenario.event_id}-out": "南門出口",
             f"{scenario.event_id}-desk": "服務台"}
    for gate_id, name in names.items():  # before the live picture is first built for a dashboard
        await live_system.afetch("UPDATE gates SET name = $2 WHERE gate_id = $1", gate_id, name)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/dashboard/"
                    f"#token={scenario.coordinator_token}&event={scenario.event_id}")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await post_scans(live_system, scenario, [scenario.cards[0][1]])
    await text_is(page, "#on-site", "1")
    shown = await page.eval_on_selector_all("#gates tbody tr td:first-child", "cells => cells.map(c => c.textContent)")
    assert sorted(shown) == sorted(names.values())
    body = await page.inner_text("body")
    assert [gate_id for gate_id in names if gate_id in body] == []
    assert [code for code in VOCABULARY if re.search(rf"(?<![\w-]){code}(?![\w-])", body)] == []
    await context.close()


# For every text node of two characters or more: how many lines it takes, through a Range's line boxes.
LINES_PER_TEXT = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.trim();
    if ([...text].length < 2 || !node.parentElement.checkVisibility()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
    out.push({ text, lines: tops.size, tag: node.parentElement.tagName, id: node.parentElement.id });
  }
  return out;
}"""
NO_SIDEWAYS_SCROLL = """() => [document.documentElement, ...document.querySelectorAll(".panel, .hero")]
  .filter((e) => e.scrollWidth > e.clientWidth + 1).map((e) => e.className || e.tagName)"""
CHART_LABELS = """() => [...document.querySelectorAll("#chart text")].map((t) => {
  const m = t.getScreenCTM();
  return { text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * m.a, sx: m.a, sy: m.d };
})"""


async def test_dashboard_on_a_phone_keeps_words_whole_and_labels_legible(browser, live_system: LiveSystem,
                                                                      artifacts: Path) -> None:
    await gateway_knows_the_test_key(live_system)
    scenario = live_system.scenario(volunteers=6)
    await post_scans(live_system, scenario, [card for _, card in scenario.cards[:2]])
    context = await browser.new_context(viewport={"width": 390, "height": 844})
    page = await context.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/dashboard/"
                    f"#token={scenario.coordinator_token}&event={scenario.event_id}")
    await page.wait_for_selector("#conn[data-state=live]", timeout=WAIT_MS)
    await text_is(page, "#on-site", "2")
    await page.wait_for_selector("#shifts tbody tr", timeout=WAIT_MS)
    await page.screenshot(path=str(artifacts / "dashboard-390-live.png"), full_page=True)

    texts = await page.evaluate(LINES_PER_TEXT)
    assert any(t["id"] == "conn" for t in texts) and any(t["id"] == "logout" for t in texts)
    stacked = [t for t in texts if t["lines"] >= len(t["text"])]
    assert stacked == [], "text wrapping one character a line"
    for selector in ("#conn", "#logout", "#lang"):
        assert [t for t in texts if t["id"] == selector[1:] and t["lines"] != 1] == []

    labels = await page.evaluate(CHART_LABELS)
    assert len(labels) >= 4  # the value ticks and some hours
    assert [lab for lab in labels if lab["px"] < 10 or abs(lab["sx"] - lab["sy"]) > 0.01] == []

    # zone and shift rows say their staffing the same way: in a word (the meter beside it is hidden on a phone)
    for table in ("zones", "shifts"):
        rows = await page.eval_on_selector_all(
            f"#{table} tbody tr", "rows => rows.map(r => r.querySelector('td:last-child .tag')?.textContent ?? '')")
        assert rows and all(word.strip() for word in rows), (table, rows)
    assert await page.inner_text("#dup-today") == "0" and await page.inner_text("#rej-today") == "0"

    assert await page.evaluate(NO_SIDEWAYS_SCROLL) == []

    await page.click("#lang")  # English words are longer: still whole
    await text_is(page, "#conn", "Live")
    assert [t for t in await page.evaluate(LINES_PER_TEXT) if t["lines"] >= len(t["text"])] == []
    assert [t for t in await page.evaluate(LINES_PER_TEXT) if t["id"] in ("conn", "logout", "lang") and t["lines"] != 1] == []
    assert await page.evaluate(NO_SIDEWAYS_SCROLL) == []
    await page.screenshot(path=str(artifacts / "dashboard-390-live-en.png"), full_page=True)
    await context.close()
