"""How often zxing-cpp (Python) finds and reads random cards in a fake camera frame: the figures quoted where
the camera tests choose their shots (camera_videos.worn_code, test_camera.SMALL).

    .venv/bin/python -m tests.browser.camera_probe --share 0.15 --cards 20
    .venv/bin/python -m tests.browser.camera_probe --share 0.17 --cards 20 --view crop

Each card is new (a fresh key and card id), printed and rasterised as the tests do, and held at `--share` of
a 1280×720 frame with the small/worn shots' blur and noise. The frame is read as the kiosk reads it
(kiosk/gate/scanner.js): the whole frame scaled to 960 wide (--view scaled), or the centre crop at full
resolution (--view crop); --view full reads all 1280×720 pixels. Bounded: --cards at most 200.
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from checkin.cards.format import new_card_id, sign_card
from tests.browser.camera_videos import Shot, frames, printed_card

CROP_W, CROP_H = 0.5, 0.66  # kiosk/gate/scanner.js
MAX_WIDTH = 960  # the same
VIEWS = ("scaled", "crop", "full")
MAX_CARDS = 200


@dataclass(frozen=True)
class Tally:
    cards: int
    located: int  # cards with a symbol found (read or not) in at least one frame
    read: int  # cards read in at least one frame


def centre_crop(frame: Image.Image) -> Image.Image:
    width, height = round(frame.width * CROP_W), round(frame.height * CROP_H)
    left, top = (frame.width - width) // 2, (frame.height - height) // 2
    return frame.crop((left, top, left + width, top + height))


def seen(frame: Image.Image, view: str) -> Image.Image:
    if view == "crop":
        return centre_crop(frame)
    if view == "scaled" and frame.width > MAX_WIDTH:
        return frame.resize((MAX_WIDTH, round(frame.height * MAX_WIDTH / frame.width)), Image.Resampling.BILINEAR)
    return frame


def probe(share: float, cards: int, view: str) -> Tally:
    key = Ed25519PrivateKey.generate()
    shot = Shot((1280, 720), share, blur=1.0, noise=6, background=110)
    located = read = 0
    for _ in range(cards):
        with tempfile.TemporaryDirectory() as folder:
            card = printed_card(sign_card(key, new_card_id()), Path(folder))
        found = [zxingcpp.read_barcodes(seen(f, view), formats=zxingcpp.BarcodeFormat.QRCode, return_errors=True)
                 for f in frames(card, shot)]
        located += any(results for results in found)
        read += any(r.valid for results in found for r in results)
    return Tally(cards, located, read)


def main(argv: Sequence[str] | None = None) -> Tally:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.camera_probe", description=__doc__.split("\n")[0])
    parser.add_argument("--share", type=float, required=True, help="the card's width as a share of the frame's")
    parser.add_argument("--cards", type=int, default=20, help=f"random cards to try (1–{MAX_CARDS})")
    parser.add_argument("--view", choices=VIEWS, default="scaled", help="what of the frame is read")
    args = parser.parse_args(argv)
    if not 0 < args.share <= 1:
        parser.error("--share must be above 0 and at most 1")
    if not 1 <= args.cards <= MAX_CARDS:
        parser.error(f"--cards must be 1–{MAX_CARDS}")
    tally = probe(args.share, args.cards, args.view)
    where = {"scaled": "whole frame scaled to 960 wide", "crop": "centre crop", "full": "whole 1280×720 frame"}[args.view]
    print(f"card at {args.share:.1%} of the width, {where}: located {tally.located} of {tally.cards}, "
          f"read {tally.read} of {tally.cards}")
    return tally


if __name__ == "__main__":
    main()
