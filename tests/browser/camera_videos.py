"""Fake camera videos for the gate, made at test time from a card printed by the project's own code.

The card goes through `checkin.cards.printing.cards_pdf`, is rasterised by poppler's `pdftoppm` at 150 dpi as
a printed sheet would be scanned, and is then placed in a camera frame: scaled to a share of the frame's
width, rotated, tilted (a perspective), with low contrast, blur, noise and uneven light as asked. The frames
are written as a Y4M file (4:2:0, grey) that Chromium loops as its fake camera. Pillow only.
"""

from __future__ import annotations

import math
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

from checkin.cards.printing import CARD_H, CARD_W, MARGIN_X, MARGIN_Y, QR_SIZE, PrintCard, cards_pdf

DPI = 150
MM = DPI / 25.4  # pixels a millimetre


def printed_card(card_text: str, folder: Path) -> Image.Image:
    """The first card of a printed sheet, as pdftoppm rasterises it at 150 dpi (grey)."""
    card_id = card_text.split(".")[2]
    pdf = folder / "card.pdf"
    cards_pdf([PrintCard(card_text, card_id, "陳淑芬", "觀光傳播局導覽志工隊")], pdf, progress=False)
    subprocess.run(["pdftoppm", "-r", str(DPI), "-gray", "-png", "-singlefile", str(pdf), str(folder / "sheet")],
                   check=True)
    sheet = Image.open(folder / "sheet.png").convert("L")
    box = (round(MARGIN_X * MM), round(MARGIN_Y * MM), round((MARGIN_X + CARD_W) * MM), round((MARGIN_Y + CARD_H) * MM))
    return sheet.crop(box)


def without_code(card: Image.Image) -> Image.Image:
    """The same card with its QR code painted over: a card-like thing with print on it, but no code."""
    blank = card.copy()
    left, top = 1.5 * MM, (CARD_H - QR_SIZE) / 2 * MM
    ImageDraw.Draw(blank).rectangle((left, top, left + QR_SIZE * MM, top + QR_SIZE * MM), fill=235)
    return blank


def worn_code(card: Image.Image, corner: float = 0.3) -> Image.Image:
    """The card with its QR code rubbed off but for the three finder corners (`corner` of the side each): a
    code the decoder finds every time and can never read. A code merely far away is found or not depending on
    its content, which made a test of the hint with a far code fail on some cards: at 15% of the width of a
    1280×720 frame, zxing-cpp located 19 of 20 random cards and read none, at 16.5% it read all 20
    (`python -m tests.browser.camera_probe --share 0.15 --view full`, 2026-12-03)."""
    worn = card.copy()
    left, top, side = 1.5 * MM, (CARD_H - QR_SIZE) / 2 * MM, QR_SIZE * MM
    draw = ImageDraw.Draw(worn)
    draw.rectangle((left + corner * side, top + corner * side, left + side, top + side), fill=235)
    draw.rectangle((left + corner * side, top, left + (1 - corner) * side, top + corner * side), fill=235)
    draw.rectangle((left, top + corner * side, left + corner * side, top + (1 - corner) * side), fill=235)
    return worn


@dataclass(frozen=True)
class Shot:
    """How the card is held in front of the camera."""

    size: tuple[int, int]  # the frame
    width_share: float  # the card's width as a share of the frame's
    rotate_deg: float = 0.0  # in the picture's plane
    tilt_deg: float = 0.0  # about the card's vertical axis: its far edge shorter
    ink: int = 0  # the darkest and lightest grey the print comes out as (low contrast: close together)
    paper: int = 255
    background: int = 120
    blur: float = 0.0  # Gaussian radius in pixels
    noise: float = 0.0  # Gaussian noise sigma, new in every frame
    light: float = 1.0  # the darkest side's share of the light (uneven light: < 1, left to right)
    frames: int = 3


def _solve(matrix: list[list[float]], values: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (8 unknowns: no numpy needed)."""
    n = len(values)
    rows = [row[:] + [v] for row, v in zip(matrix, values, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [a - factor * b for a, b in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def _perspective(out: list[tuple[float, float]], src: list[tuple[float, float]]) -> tuple[float, ...]:
    """Pillow's PERSPECTIVE data: for each output point (x, y), where in the source to sample."""
    matrix, values = [], []
    for (x, y), (u, v) in zip(out, src, strict=True):
        matrix.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        values.append(u)
        matrix.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values.append(v)
    return tuple(_solve(matrix, values))


def _held(card: Image.Image, shot: Shot) -> tuple[Image.Image, Image.Image]:
    """The card as it appears (and its mask): scaled, contrast squeezed, tilted, rotated."""
    width = round(shot.size[0] * shot.width_share)
    height = round(width * card.height / card.width)
    span = shot.paper - shot.ink
    held = card.resize((width, height), Image.Resampling.LANCZOS).point(lambda g: shot.ink + g * span // 255)
    mask = Image.new("L", held.size, 255)
    if shot.tilt_deg:
        near = math.tan(math.radians(shot.tilt_deg)) * 0.25 * height  # how much shorter the far edge is
        w2 = width * math.cos(math.radians(shot.tilt_deg))
        out = [(0, 0), (w2, near), (w2, height - near), (0, height)]
        src = [(0, 0), (width, 0), (width, height), (0, height)]
        data = _perspective(out, src)
        size = (math.ceil(w2), height)
        held = held.transform(size, Image.Transform.PERSPECTIVE, data, Image.Resampling.BICUBIC, fillcolor=0)
        mask = mask.transform(size, Image.Transform.PERSPECTIVE, data, Image.Resampling.BICUBIC, fillcolor=0)
    if shot.rotate_deg:
        held = held.rotate(shot.rotate_deg, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
        mask = mask.rotate(shot.rotate_deg, Image.Resampling.BICUBIC, expand=True, fillcolor=0)
    return held, mask


def frames(card: Image.Image, shot: Shot) -> list[Image.Image]:
    held, mask = _held(card, shot)
    scene = Image.new("L", shot.size, shot.background)
    scene.paste(held, ((shot.size[0] - held.width) // 2, (shot.size[1] - held.height) // 2), mask)
    if shot.light < 1:
        low = round(255 * shot.light)
        ramp = Image.linear_gradient("L").rotate(90).transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        ramp = ramp.resize(shot.size).point(lambda g: low + g * (255 - low) // 255)
        scene = ImageChops.multiply(scene, ramp)
    if shot.blur:
        scene = scene.filter(ImageFilter.GaussianBlur(shot.blur))
    out = []
    rng = random.Random(repr(shot))  # the same grain for the same shot in every run (Pillow's own is unseeded)
    for _ in range(shot.frames):
        if shot.noise:
            out.append(ImageChops.add(scene, _grain(rng, shot.size, shot.noise), scale=1.0, offset=-128))
        else:
            out.append(scene)
    return out


def _grain(rng: random.Random, size: tuple[int, int], sigma: float) -> Image.Image:
    """Near-Gaussian noise centred on 128: the mean of four uniform images (sigma about 37), scaled to sigma."""
    def uniform() -> Image.Image:
        return Image.frombytes("L", size, rng.randbytes(size[0] * size[1]))
    mean = ImageChops.add(ImageChops.add(uniform(), uniform(), scale=2.0), ImageChops.add(uniform(), uniform(), scale=2.0),
                          scale=2.0)
    factor = sigma / 36.9
    return mean.point(lambda v: max(0, min(255, round(128 + (v - 128) * factor))))


def write_y4m(path: Path, grey_frames: list[Image.Image]) -> Path:
    """Grey frames as 4:2:0 Y4M (chroma flat): Chromium loops the file as its fake camera, 15 frames a second."""
    width, height = grey_frames[0].size
    chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode())
        for frame in grey_frames:
            out.write(b"FRAME\n" + frame.tobytes() + chroma)
    return path
