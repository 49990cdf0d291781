"""The gate's own camera reader (kiosk/gate/scanner.js) in headless Chromium: how many random cards it reads
through a fake camera, how soon, and what one decode of each view costs. camera_probe.py asks the same of
zxing-cpp in Python; this one asks the page, so what the video pipeline and the canvas do to a frame counts.

    .venv/bin/python -m tests.browser.reader_probe --share 0.17 --cards 20

Each card is new (a fresh key and card id), printed and rasterised as the tests do, held at `--share` of a
1280×720 frame with the small shot's blur and noise, and looped as the camera of a Chromium of its own; the
page's CameraReader runs until it reads the card or `--wait` seconds pass. Then the first frame's two views
(the whole frame scaled to 960 wide, the centre crop at full resolution) are decoded by the page's
decodeImage and timed. Bounded: --cards at most 200, --wait at most 60. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from checkin.cards.format import new_card_id, sign_card
from tests.browser.camera_probe import MAX_CARDS, centre_crop, seen
from tests.browser.camera_videos import Shot, frames, printed_card, write_y4m
from tests.browser.conftest import CHROMIUM, CHROMIUM_FLAGS

KIOSK = Path(__file__).resolve().parents[2] / "kiosk"
MAX_WAIT_S = 60.0
START_READER = """async () => {
  const m = await import('./scanner.js');
  const video = document.createElement('video');
  video.muted = true;
  document.body.append(video);
  window.probeTexts = [];
  new m.CameraReader(video, (text) => window.probeTexts.push(text), () => {}).start();
}"""
# A grey picture decoded once to warm up, then timed: the figure is one decode, not the WebAssembly's load.
TIME_DECODE = """async ([width, height, grey]) => {
  const m = await import('./scanner.js');
  const raw = atob(grey);
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    rgba.set([raw.charCodeAt(i), raw.charCodeAt(i), raw.charCodeAt(i), 255], i * 4);
  }
  const image = new ImageData(rgba, width, height);
  await m.decodeImage(image);
  const start = performance.now();
  const found = await m.decodeImage(image);
  return [performance.now() - start, found];
}"""


@dataclass(frozen=True)
class ReaderTally:
    cards: int
    read: int  # cards the camera reader read within the wait
    seconds_to_read: tuple[float, ...]  # from the reader's start, for the cards read
    scaled_ms: tuple[float, ...]  # one decode of the whole frame scaled to 960 wide, a card each
    crop_ms: tuple[float, ...]  # one decode of the centre crop at full resolution


async def _serve_kiosk() -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_static("/kiosk/", KIOSK)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/kiosk/gate/index.html"


async def _time_decode(page: Any, picture: Image.Image) -> float:
    grey = base64.b64encode(picture.tobytes()).decode()
    ms, _ = await page.evaluate(TIME_DECODE, [picture.width, picture.height, grey])
    return float(ms)


async def _one_card(playwright: Any, url: str, key: Ed25519PrivateKey, shot: Shot, wait_s: float,
                    folder: Path) -> tuple[float | None, float, float]:
    text = sign_card(key, new_card_id())
    shots = frames(printed_card(text, folder), shot)
    camera = write_y4m(folder / "camera.y4m", shots)
    browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                               args=[*CHROMIUM_FLAGS, f"--use-file-for-fake-video-capture={camera}"])
    try:
        page = await browser.new_page()
        await page.goto(url)
        started = time.monotonic()
        await page.evaluate(START_READER)
        took: float | None = None
        while time.monotonic() - started < wait_s:
            if await page.evaluate("(text) => window.probeTexts.includes(text)", text):
                took = time.monotonic() - started
                break
            await asyncio.sleep(0.1)
        scaled = await _time_decode(page, seen(shots[0], "scaled"))
        crop = await _time_decode(page, centre_crop(shots[0]))
        return took, scaled, crop
    finally:
        await browser.close()


async def probe(share: float, cards: int, wait_s: float) -> ReaderTally:
    from playwright.async_api import async_playwright

    runner, url = await _serve_kiosk()
    playwright = await async_playwright().start()
    key = Ed25519PrivateKey.generate()
    shot = Shot((1280, 720), share, blur=1.0, noise=6, background=110)
    took: list[float] = []
    scaled: list[float] = []
    crop: list[float] = []
    try:
        for number in range(1, cards + 1):
            with tempfile.TemporaryDirectory() as folder:
                seconds, scaled_ms, crop_ms = await _one_card(playwright, url, key, shot, wait_s, Path(folder))
            if seconds is not None:
                took.append(seconds)
            scaled.append(scaled_ms)
            crop.append(crop_ms)
            print(f"\r{number}/{cards} cards, {len(took)} read", end="", flush=True)
        print()
    finally:
        await playwright.stop()
        await runner.cleanup()
    return ReaderTally(cards, len(took), tuple(took), tuple(scaled), tuple(crop))


def main(argv: Sequence[str] | None = None) -> ReaderTally:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.reader_probe", description=__doc__.split("\n")[0])
    parser.add_argument("--share", type=float, required=True, help="the card's width as a share of the frame's")
    parser.add_argument("--cards", type=int, default=20, help=f"random cards to try (1–{MAX_CARDS})")
    parser.add_argument("--wait", type=float, default=10.0, help=f"seconds the reader gets a card (at most {MAX_WAIT_S:g})")
    args = parser.parse_args(argv)
    if not 0 < args.share <= 1:
        parser.error("--share must be above 0 and at most 1")
    if not 1 <= args.cards <= MAX_CARDS:
        parser.error(f"--cards must be 1–{MAX_CARDS}")
    if not 0 < args.wait <= MAX_WAIT_S:
        parser.error(f"--wait must be above 0 and at most {MAX_WAIT_S:g}")
    tally = asyncio.run(probe(args.share, args.cards, args.wait))
    median = f"{statistics.median(tally.seconds_to_read):.1f} s" if tally.seconds_to_read else "-"
    print(f"card at {args.share:.1%} of the width: the camera reader read {tally.read} of {tally.cards} within "
          f"{args.wait:g} s (median {median} from its start)")
    print(f"one decode, median of {tally.cards}: whole frame scaled to 960 wide {statistics.median(tally.scaled_ms):.1f} ms, "
          f"centre crop {statistics.median(tally.crop_ms):.1f} ms")
    return tally


if __name__ == "__main__":
    main()
