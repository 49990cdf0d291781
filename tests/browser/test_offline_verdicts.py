"""Offline verdicts in a real Chromium: the kiosk decides from its gate copy by the server's rules, shows the
answer as provisional (hatched, 暫定), and after the journal replays lists every scan the server decided
otherwise for the gate lead."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import checkin.events.store as events
from checkin.access.accounts import enroll_device
from checkin.cards.format import key_id_for, public_keys_text
from checkin.cards.key_ring import KEY_REFRESH_S
from checkin.cards.store import reissue_card, revoke_card
from checkin.scan.rules import Policy
from loadtest.event_factory import Scenario
from tests.browser.conftest import LiveSystem
from tests.browser.test_gate_screens import SCREENS
from tests.browser.test_kiosk import (
    WAIT_MS,
    answer,
    device_record,
    journal,
    open_kiosk,
    shoot,
    wait_controlled,
    wait_journal_empty,
    wedge,
)

RED = "rgb(179, 0, 27)"


def card_id(text: str) -> str:
    return text.split(".")[2]


async def copy_synced(page: Any) -> None:
    await page.wait_for_selector("#copy:not([data-synced=''])", timeout=WAIT_MS)


async def provisional(page: Any, verdict: str) -> Any:
    return await page.wait_for_selector(f"#answer:not([hidden])[data-provisional=true][data-verdict={verdict}]",
                                        timeout=WAIT_MS)


async def style(page: Any) -> tuple[str, str]:
    return tuple(await page.evaluate(  # type: ignore[return-value]
        "() => { const s = getComputedStyle(document.getElementById('answer'));"
        " return [s.backgroundColor, s.backgroundImage]; }"))


async def second_device(system: LiveSystem, scenario: Scenario) -> dict[str, Any]:
    gate = f"{scenario.event_id}-desk"

    async def enroll() -> tuple[str, str]:
        async with system.pool.acquire() as conn:
            return await enroll_device(conn, system.redis, system.keys, scenario.event_id, gate, "second kiosk")

    device_id, token = await system.arun(enroll())
    return {**device_record(system, scenario), "device_token": token, "device_id": device_id}


async def lapse_and_revoke(system: LiveSystem, scenario: Scenario, uninsured: str, revoked_card: str) -> None:
    async def change() -> None:
        async with system.pool.acquire() as conn:
            await conn.execute("UPDATE volunteers SET insured_to = '2001-01-01' WHERE volunteer_id = $1", uninsured)
            await events.load_event(conn, system.redis, system.keys, scenario.event_id)
            await revoke_card(conn, system.redis, system.keys, card_id(revoked_card), "lost")

    await system.arun(change())


async def test_offline_refusals_are_red_and_provisional(browser, live_system: LiveSystem, artifacts: Path) -> None:
    scenario = live_system.scenario(policy=Policy(insurance="block", debounce_s=0))
    stranger = live_system.scenario(volunteers=1).cards[0][1]  # a genuine card of another event
    (_, ok), (uninsured_vid, uninsured), (_, revoked), (_, earlier) = scenario.cards[:4]
    await lapse_and_revoke(live_system, scenario, uninsured_vid, revoked)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, scenario))
    await wait_controlled(page)
    await wedge(page, earlier)  # online: the server's own answer, not hatched
    await page.wait_for_selector("#answer:not([hidden])[data-provisional=false][data-verdict=checked_in]",
                                 timeout=WAIT_MS)
    assert (await style(page))[1] == "none"
    assert "暫定" not in await page.inner_text("#answer-title")
    await copy_synced(page)

    await context.set_offline(True)
    await page.wait_for_selector("#conn[data-state=offline]", timeout=WAIT_MS)
    for card, reason, words in ((revoked, "revoked", "此卡已停用"), (stranger, "not_on_roster", "不在本活動名冊"),
                                (uninsured, "not_insured", "未投保意外險")):
        await wedge(page, card)
        shown = await page.wait_for_selector(
            f"#answer:not([hidden])[data-provisional=true][data-verdict=rejected][data-reason={reason}]",
            timeout=WAIT_MS)
        text = await shown.inner_text()
        assert "暫定" in text and "無法受理" in text and words in text, text
        colour, hatch = await style(page)
        assert colour == RED and "repeating-linear-gradient" in hatch
        await shoot(page, artifacts, f"kiosk-offline-{reason}")
    await wedge(page, ok)
    shown = await provisional(page, "checked_in")
    assert "暫定 簽到成功" in await shown.inner_text()
    assert "repeating-linear-gradient" in (await style(page))[1]
    await shoot(page, artifacts, "kiosk-offline-provisional-checked-in")
    await page.screenshot(path=str(SCREENS / "gate-provisional.png"))  # docs/kiosk.md links it

    # After a reload, still offline: the copy and this kiosk's own scans say who is on site
    await page.reload()
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await wedge(page, earlier)
    await provisional(page, "checked_out")
    provisional_answers = {e["scan_id"]: (e["provisional"], e["provisional_reason"]) for e in await journal(page)
                           if e["provisional_shown"]}
    assert sorted(v for v, _ in provisional_answers.values()) == [
        "checked_in", "checked_out", "rejected", "rejected", "rejected"]

    await context.set_offline(False)
    await wait_journal_empty(page)
    rows = await live_system.afetch("SELECT scan_id::text, verdict, reason FROM scans WHERE scan_id::text = any($1)",
                                    list(provisional_answers))
    assert {r["scan_id"]: (r["verdict"], r["reason"]) for r in rows} == provisional_answers
    assert await page.get_attribute("#diffs", "data-count") == "0"
    await context.close()


async def test_two_kiosks_offline_end_equal_or_listed(browser, live_system: LiveSystem, artifacts: Path) -> None:
    """200 offline scans at two kiosks, some volunteers at both: after replay every provisional verdict is the
    server's, or is on the list of the kiosk that showed it (and nothing else is on the lists)."""
    scenario = live_system.scenario(volunteers=40, policy=Policy(insurance="block", debounce_s=0))
    stranger = live_system.scenario(volunteers=1).cards[0][1]
    cards = [text for _, text in scenario.cards]
    await lapse_and_revoke(live_system, scenario, scenario.cards[0][0], cards[1])
    devices = [device_record(live_system, scenario), await second_device(live_system, scenario)]
    contexts, pages = [], []
    for device in devices:
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        pages.append(await open_kiosk(context, live_system.base_url, device))
        contexts.append(context)
    for page in pages:
        await copy_synced(page)
    # Online first: some volunteers on site before the outage
    for text in cards[2:8]:
        await pages[0].evaluate("document.getElementById('answer').dataset.verdict = ''")  # wait for this answer
        await wedge(pages[0], text)
        await answer(pages[0], "checked_in")
    await pages[0].wait_for_selector("#journal[data-pending='0']", timeout=WAIT_MS)

    for context in contexts:
        await context.set_offline(True)
    for page in pages:
        await page.wait_for_selector("#conn[data-state=offline]", timeout=WAIT_MS)
    rng = random.Random(16)
    both = cards[2:12]  # volunteers scanned at either kiosk: the other one does not know
    only = [cards[12:26], cards[26:40]]  # each kiosk's own
    made = [0, 0]
    for _ in range(200):
        k = rng.randrange(2)
        roll = rng.random()
        text = (cards[0] if roll < 0.03 else cards[1] if roll < 0.06 else stranger if roll < 0.09
                else rng.choice(both) if roll < 0.55 else rng.choice(only[k]))
        await wedge(pages[k], text)
        made[k] += 1
        await pages[k].wait_for_selector(f"#journal[data-pending='{made[k]}']", timeout=WAIT_MS)
    # The online scans may still wait in the journal for Postgres; the 200 are those answered provisionally
    shown = [{e["scan_id"]: e for e in await journal(page) if e["provisional_shown"]} for page in pages]
    assert [len(s) for s in shown] == made and sum(made) == 200
    await shoot(pages[1], artifacts, "kiosk-two-offline")

    for context in contexts:
        await context.set_offline(False)
    for page in pages:
        await wait_journal_empty(page)
    rows = await live_system.afetch("SELECT scan_id::text, device_id, verdict, reason FROM scans WHERE event_id = $1",
                                    scenario.event_id)
    final = {r["scan_id"]: (r["verdict"], r["reason"]) for r in rows}
    lists = [{d["scan_id"]: d for d in await page.evaluate(
        "async () => (await import('./store.js')).allDifferences()")} for page in pages]
    for k, page in enumerate(pages):
        differing = {sid for sid, e in shown[k].items()
                     if final[sid] != (e["provisional"], e["provisional_reason"])}
        assert set(lists[k]) == differing  # listed exactly when the server decided otherwise
        for sid in differing:
            assert lists[k][sid]["final"] == {"verdict": final[sid][0], "reason": final[sid][1]}
        await page.wait_for_selector(f"#diffs[data-count='{len(differing)}']", timeout=WAIT_MS)
    verdicts = Counter(e["provisional"] for s in shown for e in s.values())
    assert verdicts["rejected"] >= 6 and verdicts["checked_in"] and verdicts["checked_out"]
    assert sum(len(x) for x in lists) > 0  # the cross-kiosk scans do disagree
    # Refusals from the copy never differ: the server refused the same scans for the same reasons
    assert all(d["provisional"]["verdict"] != "rejected" for x in lists for d in x.values())
    # A hundred answers made in seconds wait their turn on screen (2.5 s each); the gate lead's list is what
    # is looked at here, and it is kept in IndexedDB: a reload shows it at once.
    await pages[1].reload()
    await pages[1].wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await pages[1].click("#diffs")
    await pages[1].wait_for_selector("#differences:not([hidden]) #diffs-list li", timeout=WAIT_MS)
    assert "伺服器" in await pages[1].inner_text("#diffs-list")
    await shoot(pages[1], artifacts, "kiosk-differences")
    for context in contexts:
        await context.close()


async def _cards_of_new_keys(system: LiveSystem, scenario: Scenario) -> tuple[str, str, Ed25519PrivateKey, str]:
    """A card signed by a key made after the kiosk enrolled, and one by a key the kiosk enrolled with, retired
    since (a leak): (new key id, its card, the retired key, its card)."""
    new, leaked = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()

    async def make() -> tuple[str, str]:
        async with system.pool.acquire() as conn:
            fresh = await reissue_card(conn, system.redis, system.keys, new, scenario.cards[0][0], "new key")
            gone = await reissue_card(conn, system.redis, system.keys, leaked, scenario.cards[1][0], "to retire")
            await conn.execute("UPDATE signing_keys SET retired_at = now() WHERE key_id = $1",
                               key_id_for(leaked.public_key()))
            await events.load_event(conn, system.redis, system.keys, scenario.event_id)
            return fresh.text, gone.text

    fresh, gone = await system.arun(make())
    return key_id_for(new.public_key()), fresh, leaked, gone


async def test_the_kiosk_takes_the_signing_keys_with_its_gate_copy(browser, live_system: LiveSystem) -> None:
    """A kiosk knew only the keys of its enrolment: offline, the cards of a key made since were refused as
    unknown_key (the server accepts them), and a retired key's cards were let in. Now each gate copy brings the
    gateway's key set, and an offline verdict follows it."""
    scenario = live_system.scenario()
    new_id, fresh, leaked, gone = await _cards_of_new_keys(live_system, scenario)
    leaked_id = key_id_for(leaked.public_key())
    device = device_record(live_system, scenario)  # enrolled while the leaked key was good, before the new one
    device["public_keys"] = {**device["public_keys"], **public_keys_text({leaked_id: leaked.public_key()})}
    url = f"{live_system.base_url}/api/v1/device/gate-copy"
    # Asked with another kiosk's token: a device's copies are rate limited, and the kiosk under test needs its own.
    other = (await second_device(live_system, scenario))["device_token"]
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {other}"}) as http:
        started = time.monotonic()  # the gateway's own refresh (KEY_REFRESH_S) takes up both changes
        while True:
            async with http.get(url) as resp:
                held = (await resp.json())["public_keys"] if resp.status == 200 else {}
            if new_id in held and leaked_id not in held:
                break
            assert time.monotonic() - started < KEY_REFRESH_S + 10, (resp.status, sorted(held))
            await asyncio.sleep(1.0)

    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device)
    await wait_controlled(page)
    await copy_synced(page)
    kept = await page.evaluate("async () => (await (await import('./store.js')).loadDevice()).public_keys")
    assert new_id in kept and leaked_id not in kept  # kept in IndexedDB: a reload offline still has them
    await context.set_offline(True)
    await page.wait_for_selector("#conn[data-state=offline]", timeout=WAIT_MS)
    await wedge(page, fresh)
    await provisional(page, "checked_in")
    await wedge(page, gone)
    await page.wait_for_selector(
        "#answer:not([hidden])[data-provisional=true][data-verdict=rejected][data-reason=unknown_key]", timeout=WAIT_MS)
    await context.set_offline(False)
    await wait_journal_empty(page)
    rows = await live_system.afetch("SELECT verdict, reason FROM scans WHERE card_id = any($1) ORDER BY scanned_at",
                                    [card_id(fresh), card_id(gone)])
    assert [(r["verdict"], r["reason"]) for r in rows] == [("checked_in", None), ("rejected", "unknown_key")]
    await context.close()
