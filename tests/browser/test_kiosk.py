"""The gate kiosk in a real Chromium: fake camera, wedge scanner, offline journal, enrollment, HTTPS."""

from __future__ import annotations

import asyncio
import base64
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from PIL import Image

from checkin.access.enrollment import create_code
from checkin.cards.format import key_id_for, public_key_bytes
from checkin.cards.printing import qr_image
from checkin.scan.rules import Policy
from loadtest.event_factory import SIGNING_KEY, Scenario, altered_card
from tests.browser.conftest import REPO, LiveSystem

pytestmark = pytest.mark.browser
WAIT_MS = 20_000


def write_y4m(path: Path, image: Image.Image) -> Path:
    """One 4:2:0 frame; Chromium loops it as its fake camera."""
    rgb = image.convert("RGB")
    width, height = rgb.size
    y, cb, cr = rgb.convert("YCbCr").split()
    half = (width // 2, height // 2)
    frame = y.tobytes() + cb.resize(half).tobytes() + cr.resize(half).tobytes()
    path.write_bytes(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode() + b"FRAME\n" + frame)
    return path


def card_frame(text: str) -> Image.Image:
    frame = Image.new("L", (640, 480), 235)
    code = qr_image(text, scale=5)
    frame.paste(code, ((640 - code.width) // 2, (480 - code.height) // 2))
    return frame


def device_record(system: LiveSystem, scenario: Scenario) -> dict[str, Any]:
    """What enrollment stores, for a device enrolled with checkin.accounts.enroll_device."""
    public = SIGNING_KEY.public_key()
    gate = f"{scenario.event_id}-desk"
    return {
        "device_token": scenario.device_token, "device_id": scenario.device_token.split(".")[1],
        "event_id": scenario.event_id, "gate_id": gate, "gate_name": gate, "event_name": scenario.event_id,
        "public_keys": {key_id_for(public): base64.b64encode(public_key_bytes(public)).decode()},
    }


async def open_kiosk(context: Any, url: str, device: dict[str, Any] | None) -> Any:
    page = await context.new_page()
    watch(page)
    await page.goto(f"{url}/kiosk/")
    if device is not None:
        await page.evaluate("async (d) => { const s = await import('./store.js'); await s.saveDevice(d); }", device)
        await page.reload()
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    return page


REGISTRATION_STATE = """async () => {
  const r = await navigator.serviceWorker.getRegistration();
  const state = (w) => (w ? w.state : null);
  return r ? { scope: r.scope, installing: state(r.installing), waiting: state(r.waiting), active: state(r.active) }
    : null;
}"""


async def wait_controlled(page: Any) -> None:
    """Wait until the page's service worker controls it (its offline copy is in place); on a timeout, say
    what the page's registration holds, which tells a failed install from a worker that never claimed."""
    try:
        await page.wait_for_function("() => navigator.serviceWorker.controller !== null", timeout=WAIT_MS)
    except Exception:
        state = await page.evaluate(REGISTRATION_STATE)
        raise AssertionError(f"no service worker controls {page.url} after {WAIT_MS} ms; registration: {state}"
                             ) from None


def watch(page: Any, pin: str = "") -> None:
    """Accept confirm dialogs (a PIN prompt with `pin`); print the page's console and errors (shown by pytest
    when a test fails)."""
    page.on("dialog", lambda dialog: dialog.accept(pin) if dialog.type == "prompt" else dialog.accept())
    page.on("console", lambda msg: print(f"console.{msg.type}: {msg.text}"))
    page.on("pageerror", lambda err: print(f"pageerror: {err}"))
    page.on("requestfailed", lambda req: print(f"requestfailed: {req.url} {req.failure}"))
    page.on("response", lambda resp: resp.status >= 400 and print(f"http {resp.status}: {resp.url}"))


async def answer(page: Any, verdict: str) -> Any:
    return await page.wait_for_selector(f"#answer:not([hidden])[data-verdict={verdict}]", timeout=WAIT_MS)


async def wedge(page: Any, text: str, *, keyboard: bool = False) -> None:
    """A USB scanner typing the card text and Enter. keyboard=True types through Chromium's input pipeline,
    key by key as a person would see it; otherwise the same keydown events are dispatched in one go, so a
    stall of this test process cannot open a gap longer than the page's 500 ms between two keys."""
    if keyboard:
        await page.keyboard.type(text)
        await page.keyboard.press("Enter")
        return
    await page.evaluate("""(text) => {
      for (const key of [...text, "Enter"]) {
        document.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true }));
      }
    }""", text)


async def journal(page: Any) -> list[dict[str, Any]]:
    return await page.evaluate("async () => (await import('./store.js')).allEntries()")


async def wait_journal_empty(page: Any) -> None:
    """Every scan left the journal: the gateway's durable_seq says Postgres holds them all."""
    await page.wait_for_selector("#journal[data-pending='0'][data-held='0']", timeout=WAIT_MS)
    assert await journal(page) == []


async def shoot(page: Any, artifacts: Path, name: str) -> None:
    await page.screenshot(path=str(artifacts / f"{name}.png"))


async def test_camera_card_checks_in_once(launch_browser, live_system: LiveSystem, artifacts: Path,
                                          tmp_path: Path) -> None:
    scenario = live_system.scenario()
    volunteer_id, card = scenario.cards[0]
    camera = write_y4m(tmp_path / "card.y4m", card_frame(card))
    browser = await launch_browser(camera=camera)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device_record(live_system, scenario))

    shown = await answer(page, "checked_in")
    assert "簽到成功" in await shown.inner_text()
    assert (await page.inner_text("#answer-name")).startswith("志")  # the gateway's display name (masked)
    assert "測試志工隊" in await shown.inner_text()
    await shoot(page, artifacts, "kiosk-camera-checked-in-1280")

    # The card stays in view: many frames read it, one scan is made.
    await page.wait_for_function("() => Number(document.body.dataset.cameraReads || 0) >= 8", timeout=WAIT_MS)
    await wait_journal_empty(page)  # stored in Postgres (durable_seq), so it left the journal
    rows = await live_system.afetch("SELECT volunteer_id, verdict, seq FROM scans WHERE event_id = $1",
                                    scenario.event_id)
    assert [(r["volunteer_id"], r["verdict"], r["seq"]) for r in rows] == [(volunteer_id, "checked_in", 1)]
    await context.close()


async def test_wedge_scanner_answer_screens(browser, live_system: LiveSystem, artifacts: Path) -> None:
    quick = live_system.scenario(policy=Policy(debounce_s=0))  # in then out at once
    strict = live_system.scenario()  # default debounce: a second scan is a duplicate
    for width, height in ((360, 740), (1280, 800)):
        context = await browser.new_context(viewport={"width": width, "height": height})
        page = await open_kiosk(context, live_system.base_url, device_record(live_system, quick))
        index = 0 if width == 360 else 1
        card = quick.cards[index][1]

        await wedge(page, card, keyboard=True)  # once through real key input
        assert "簽到成功" in await (await answer(page, "checked_in")).inner_text()
        await shoot(page, artifacts, f"kiosk-checked-in-{width}")
        await wedge(page, card)
        text = await (await answer(page, "checked_out")).inner_text()
        assert "簽退成功" in text and "0 分" in text
        await shoot(page, artifacts, f"kiosk-checked-out-{width}")

        # A changed signature character (not the last: its low bits are padding)
        forged = altered_card(card)
        await wedge(page, forged)
        text = await (await answer(page, "rejected")).inner_text()
        assert "卡片無效或遭竄改" in text
        await shoot(page, artifacts, f"kiosk-rejected-{width}")

        await page.evaluate("async (d) => (await import('./store.js')).saveDevice(d)",
                            device_record(live_system, strict))
        await page.reload()
        await page.wait_for_selector("body[data-booted=true]")
        card = strict.cards[index][1]
        await wedge(page, card)
        await answer(page, "checked_in")
        await page.click("#lang")  # English
        await wedge(page, card)
        text = await (await answer(page, "duplicate")).inner_text()
        assert "Already scanned" in text and "Checked in at" in text and "no need to scan again" in text
        await shoot(page, artifacts, f"kiosk-duplicate-en-{width}")
        await page.click("#lang")
        await context.close()


async def test_offline_scans_survive_reload_and_arrive_once(browser, live_system: LiveSystem,
                                                           artifacts: Path) -> None:
    scenario = live_system.scenario()
    device = device_record(live_system, scenario)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.base_url, device)
    await wait_controlled(page)
    await wedge(page, scenario.cards[0][1])
    await answer(page, "checked_in")

    await context.set_offline(True)
    for _, card in scenario.cards[1:4]:
        await wedge(page, card)
        shown = await page.wait_for_selector("#answer:not([hidden])[data-provisional=true]", timeout=WAIT_MS)
        assert await shown.get_attribute("data-verdict") == "checked_in"
    assert "離線暫定結果" in await page.inner_text("#answer")
    await page.wait_for_selector("#offline-banner:not([hidden])")
    await shoot(page, artifacts, "kiosk-offline-provisional")

    await page.reload()  # served by the service worker; the journal is in IndexedDB
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await wedge(page, scenario.cards[4][1])
    await page.wait_for_selector("#answer:not([hidden])[data-provisional=true]", timeout=WAIT_MS)
    await page.wait_for_selector("#journal[data-pending='4']", timeout=WAIT_MS)
    assert "4" in await page.inner_text("#offline-banner")
    waiting = await journal(page)
    assert [e["seq"] for e in waiting if not e["answered"]] == [2, 3, 4, 5]
    await shoot(page, artifacts, "kiosk-offline-waiting")

    await context.set_offline(False)
    await wait_journal_empty(page)
    rows = await live_system.afetch(
        "SELECT scan_id, seq, volunteer_id, verdict FROM scans WHERE device_id = $1 ORDER BY seq", device["device_id"])
    assert [r["seq"] for r in rows] == [1, 2, 3, 4, 5]
    assert [r["volunteer_id"] for r in rows] == [vid for vid, _ in scenario.cards[:5]]
    assert all(r["verdict"] == "checked_in" for r in rows)
    assert {str(r["scan_id"]) for r in rows} >= {e["scan_id"] for e in waiting}
    assert await live_system.afetchval(
        "SELECT durable_seq FROM device_watermarks WHERE device_id = $1", device["device_id"]) == 5
    await page.wait_for_selector("#conn[data-state=online]")
    # Its polls told the office its page version and an empty journal (the console's device list reads this).
    version = re.search(r'APP_VERSION = "([^"]+)"', (REPO / "kiosk" / "gate" / "api.js").read_text()).group(1)  # type: ignore[union-attr]
    seen = live_system.keys.event(scenario.event_id).seen
    deadline = asyncio.get_running_loop().time() + 60
    while True:
        raw = await live_system.arun(live_system.redis.hget(seen, device["device_id"]))
        report = orjson.loads(raw) if raw else {}
        if report.get("v") == version and report.get("u") == 0 and report.get("h") == 0:
            break
        assert asyncio.get_running_loop().time() < deadline, f"the kiosk's poll reported {report}"
        await asyncio.sleep(0.5)
    await context.close()


async def test_enrollment_link_then_scan(browser, live_system: LiveSystem, artifacts: Path) -> None:
    scenario = live_system.scenario()
    gate = f"{scenario.event_id}-in"

    async def new_code() -> str:
        async with live_system.pool.acquire() as conn:
            return await create_code(conn, scenario.event_id, gate, "browser test")

    code = await live_system.arun(new_code())
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    page = await context.new_page()
    watch(page, pin="2468")
    await page.goto(f"{live_system.base_url}/kiosk/#enroll={code}")
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await page.fill("#enroll-pin", "2468")  # the link brings the code; the PIN is set here
    await page.click("#enroll-form button[type=submit]")
    await page.wait_for_selector("#ready:not([hidden])", timeout=WAIT_MS)
    assert await page.inner_text("#gate-name") == gate
    assert "測試活動" in await page.inner_text("#event-name")
    assert "enroll" not in page.url  # the one-time code does not linger in the address bar

    await wedge(page, scenario.cards[0][1])
    await answer(page, "checked_in")
    await page.wait_for_selector("#conn[data-state=online]")
    await shoot(page, artifacts, "kiosk-enrolled-status")
    device_id = (await page.evaluate("async () => (await import('./store.js')).loadDevice()"))["device_id"]
    await wait_journal_empty(page)
    assert await live_system.afetchval("SELECT gate_id FROM scans WHERE device_id = $1", device_id) == gate

    await page.click("#reset")  # confirm dialogs are accepted
    await page.wait_for_selector("#enroll:not([hidden])")
    assert await page.evaluate("async () => (await import('./store.js')).loadDevice()") is None
    await context.close()


async def test_kiosk_over_https_with_generated_ca(launch_browser, browser, live_system: LiveSystem,
                                                 artifacts: Path) -> None:
    scenario = live_system.scenario()
    untrusted = await browser.new_context()
    with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
        await (await untrusted.new_page()).goto(f"{live_system.https_url}/kiosk/")
    await untrusted.close()

    trusting = await launch_browser(trust_ca=live_system.tls.ca_cert)
    context = await trusting.new_context(viewport={"width": 1280, "height": 800})
    page = await open_kiosk(context, live_system.https_url, device_record(live_system, scenario))
    assert await page.evaluate("window.isSecureContext")
    await wedge(page, scenario.cards[0][1])
    await answer(page, "checked_in")
    await shoot(page, artifacts, "kiosk-https")
    await wait_journal_empty(page)
    assert await live_system.afetchval("SELECT count(*) FROM scans WHERE event_id = $1", scenario.event_id) == 1
    await context.close()
