"""The gate's camera at arm's length (issue 19's acceptance): fake camera videos made at test time from a card
printed by the project (tests/browser/camera_videos.py), each looped by its own Chromium.

A card in view gives a verdict within 3 s of the page's navigation; a video with no code gives none in 10 s; a
code too small and blurred to read says 請靠近一點 (hold it closer).
"""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest

from tests.browser.camera_videos import Shot, frames, printed_card, without_code, worn_code, write_y4m
from tests.browser.conftest import LiveSystem
from tests.browser.reader_probe import START_READER, TIME_DECODE
from tests.browser.test_kiosk import WAIT_MS, device_record, watch

pytestmark = pytest.mark.browser
VERDICT_WITHIN_MS = 3000  # from navigation, as the issue asks
SHOTS = {
    "640x480 easy": Shot((640, 480), 0.6, background=200),
    "1280x720 card at 25% of the width, rotated 30 degrees, low contrast": Shot(
        (1280, 720), 0.25, rotate_deg=30, ink=95, paper=165, background=130, noise=4),
    "1280x720 card at 40%, tilted 12 degrees, blurred, noisy, uneven light": Shot(
        (1280, 720), 0.40, tilt_deg=12, blur=1.3, noise=10, light=0.45, background=110),
}
# Too few pixels a module once the whole frame is scaled to 960 px wide: only the full-resolution centre crop
# reads it. zxing-cpp in Python, 100 random cards each: scaled, located 97 and read 0; the crop read 100
# (`python -m tests.browser.camera_probe --share 0.17 --cards 100`, then with `--view crop`; 2026-12-03). The page's own reader,
# through Chromium's fake camera, read 100 of 100 once its crop was on whole pixels, 58 of 60 before
# (`python -m tests.browser.reader_probe --share 0.17 --cards 60`).
SMALL = Shot((1280, 720), 0.17, blur=1.0, noise=6, background=110)
NO_CODE = Shot((1280, 720), 0.40, tilt_deg=12, blur=1.3, noise=10, light=0.45, background=110)
WORN = Shot((1280, 720), 0.40, blur=1.0, noise=6, background=110)  # a worn code, well in view: found, never read


async def kiosk_with_camera(launch_browser, system: LiveSystem, camera: Path, device: dict) -> tuple:
    """A Chromium whose camera loops `camera`, with the kiosk enrolled; the page is not yet opened."""
    browser = await launch_browser(camera=camera)
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    first = await context.new_page()
    await first.goto(f"{system.base_url}/kiosk/")
    await first.evaluate("async (d) => { const s = await import('./store.js'); await s.saveDevice(d); }", device)
    await first.close()
    page = await context.new_page()
    watch(page)
    return browser, page


async def test_a_small_card_is_read_in_the_full_resolution_crop(launch_browser, live_system: LiveSystem,
                                                               tmp_path: Path) -> None:
    # Not timed: on a loaded two-core machine a full-resolution crop takes a few hundred ms to decode.
    scenario = live_system.scenario()
    card = printed_card(scenario.cards[0][1], tmp_path)
    camera = write_y4m(tmp_path / "camera.y4m", frames(card, SMALL))
    browser, page = await kiosk_with_camera(launch_browser, live_system, camera, device_record(live_system, scenario))
    await page.goto(f"{live_system.base_url}/kiosk/")
    # Not a speed figure: generous, so a busy machine (load 20 was seen) still gets its few crop decodes done.
    await page.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=3 * WAIT_MS)
    await browser.close()


# A card (text fixed, so its print and the frame are too) whose centre crop zxing-wasm first locates as a
# candidate that fails its checksum, and reads in a later pass. Asked for one symbol with errors returned, the
# reader stopped at the failure: the test above failed on half of its random cards (CI, 2026-12-03).
FIRST_CANDIDATE_FAILS = ("VC1.KQY6M6.Q3LZUQND.KB4SC55N5Z5MCJ5UFXRKLQJDUNDADIP5FYXBYS2LBZ2SAIHE5UOOH36V2O3ZDMUZQAXI53WMJHWEVAVA"
                         "AHVG25VGSVX53G4NRBVAEBA")

async def test_a_card_whose_first_candidate_fails_is_still_read(launch_browser, live_system: LiveSystem,
                                                                tmp_path: Path) -> None:
    frame = frames(printed_card(FIRST_CANDIDATE_FAILS, tmp_path), SMALL)[0]
    browser = await launch_browser()
    page = await browser.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/")
    share_w, share_h = await page.evaluate("async () => { const m = await import('./scanner.js'); "
                                           "return [m.CROP_W, m.CROP_H]; }")
    width, height = round(frame.width * share_w), round(frame.height * share_h)
    left, top = (frame.width - width) // 2, (frame.height - height) // 2
    crop = frame.crop((left, top, left + width, top + height))
    _, found = await page.evaluate(TIME_DECODE, [width, height, base64.b64encode(crop.tobytes()).decode()])
    assert found == {"text": FIRST_CANDIDATE_FAILS, "located": False}
    await browser.close()


# A card (text fixed) that the camera reader never read while the centre crop began half a pixel down: 720 × 0.66
# is 475 rows, so the crop started at row 122.5 and the canvas blended each row into the next. 1 random card in 20
# was unread for good that way (CI, 2026-12-03, twice); this one was unread for 15 s, 96 frames all "located".
HALF_PIXEL_BLUR = ("VC1.KZP3UN.F5AUJQ74.42UKXNHHRVEBKZDSELSWQ63AKAD54C46ZICMKWZT2B7465CUBL43POXSUZFVUHM24TQFKVG3E6KU"
                   "RRLPP6HFTMASFA27CVIJR4FPQAI")

async def test_the_centre_crop_is_taken_on_whole_pixels(launch_browser, live_system: LiveSystem,
                                                       tmp_path: Path) -> None:
    camera = write_y4m(tmp_path / "camera.y4m", frames(printed_card(HALF_PIXEL_BLUR, tmp_path), SMALL))
    browser = await launch_browser(camera=camera)
    page = await browser.new_page()
    watch(page)
    await page.goto(f"{live_system.base_url}/kiosk/")
    await page.evaluate(START_READER)
    await page.wait_for_function(f"() => window.probeTexts.includes({HALF_PIXEL_BLUR!r})", timeout=WAIT_MS)
    await browser.close()


async def test_no_code_no_verdict_in_10_s(launch_browser, live_system: LiveSystem, tmp_path: Path) -> None:
    scenario = live_system.scenario()
    card = without_code(printed_card(scenario.cards[0][1], tmp_path))
    camera = write_y4m(tmp_path / "camera.y4m", frames(card, NO_CODE))
    browser, page = await kiosk_with_camera(launch_browser, live_system, camera, device_record(live_system, scenario))
    await page.goto(f"{live_system.base_url}/kiosk/")
    await page.wait_for_selector("body[data-booted=true]", timeout=WAIT_MS)
    await page.wait_for_timeout(10_000)
    # The reader ran all along (many frames decoded), and nothing was read or answered.
    assert int(await page.evaluate("() => document.body.dataset.cameraFrames || '0'")) >= 20
    assert await page.evaluate("() => document.body.dataset.cameraReads") is None
    assert await page.is_hidden("#answer")
    assert await page.is_hidden("#closer")  # print on a card is not a code
    rows = await live_system.afetch("SELECT count(*) AS n FROM scans WHERE event_id = $1", scenario.event_id)
    assert rows[0]["n"] == 0
    await browser.close()


# The worn card's text is fixed, so its print and frames are the same every run. With a random card, the page's
# zxing once took the rubbed code for a valid symbol reading "252" in every loop of the video (1 card in the CI
# runs so far; 0 of 20 random worn cards through the page's reader, 8 s each, 2026-12-03, every frame located),
# and "nothing was read" failed. This text is the first of those 20.
WORN_TEXT = ("VC1.KO2PVY.RTXF4LWR.OX6U77XFKMO77K76FERBTV2PGFSASAZDKAGELAPTNDGED5LM3SFB4ASEUUIF5MLTD5C73Q5XLGWYBDEHWMMA"
             "7XVPTHSU3BWWXIKQYAQ")


async def test_a_code_seen_but_not_read_asks_to_come_closer(launch_browser, live_system: LiveSystem,
                                                            tmp_path: Path) -> None:
    scenario = live_system.scenario()
    card = worn_code(printed_card(WORN_TEXT, tmp_path))
    camera = write_y4m(tmp_path / "camera.y4m", frames(card, WORN))
    browser, page = await kiosk_with_camera(launch_browser, live_system, camera, device_record(live_system, scenario))
    await page.goto(f"{live_system.base_url}/kiosk/")
    hint = await page.wait_for_selector("#closer:not([hidden])", timeout=WAIT_MS)
    assert await hint.inner_text() == "請靠近一點"
    assert await page.is_hidden("#answer")
    # The hint came from frames where zxing found a code it could not read, and nothing was read.
    assert int(await page.evaluate("() => document.body.dataset.cameraLocated || '0'")) >= 2
    assert await page.evaluate("() => document.body.dataset.cameraReads") is None
    await page.screenshot(path=str(Path(__file__).resolve().parents[2] / "docs" / "kiosk-screens"
                                   / "gate-hold-closer.png"))
    await browser.close()


# Last in the file since the small-card test once failed after these three; the cause was the card's content
# (FIRST_CANDIDATE_FAILS above), not the browsers before it.
@pytest.mark.parametrize("name", list(SHOTS))
async def test_a_card_in_view_gives_a_verdict_within_3_s(name: str, launch_browser, live_system: LiveSystem,
                                                        tmp_path: Path, artifacts: Path) -> None:
    scenario = live_system.scenario()
    card = printed_card(scenario.cards[0][1], tmp_path)
    camera = write_y4m(tmp_path / "camera.y4m", frames(card, SHOTS[name]))
    browser, page = await kiosk_with_camera(launch_browser, live_system, camera, device_record(live_system, scenario))
    began = time.monotonic()
    await page.goto(f"{live_system.base_url}/kiosk/", wait_until="commit")
    left = VERDICT_WITHIN_MS - (time.monotonic() - began) * 1000
    shown = await page.wait_for_selector("#answer:not([hidden])[data-verdict=checked_in]", timeout=max(1, left))
    assert "簽到成功" in await shown.inner_text()
    took = round((time.monotonic() - began) * 1000)
    print(f"{name}: checked in {took} ms after navigation")
    await page.screenshot(path=str(artifacts / f"camera-{SHOTS[name].size[0]}-{SHOTS[name].width_share}.png"))
    await browser.close()
