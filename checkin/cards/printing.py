"""Printable service cards: the QR as PNG or SVG, and A4 sheets of ten cut-out cards as PDF.

QR codes come from `qrcode` (level M, version 6: a VC1 card text is alphanumeric and fits it); the
PDF from fpdf2 with Noto Sans TC (pip package pylopdf-fonts-zh-tw) so Traditional Chinese prints
as text, not boxes. Choosing the best QR mask is what costs (~7 ms a code), so sheets encode codes
in worker processes and cache them per card text.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.exceptions
from fpdf import FPDF
from PIL import Image
from tqdm import tqdm

from checkin.cards.fit import Fitted, fit_text

QUIET_ZONE = 4  # modules of white the QR standard asks for around the code
CARD_VERSION = 6
Modules = tuple[bytes, ...]  # one bytes per row, 1 = dark, without the quiet zone

# ID-1 (credit card) size, 2 x 5 on A4, centred; mm throughout.
PAGE_W, PAGE_H = 210.0, 297.0
CARD_W, CARD_H = 85.6, 54.0
COLS, ROWS = 2, 5
MARGIN_X, MARGIN_Y = (PAGE_W - COLS * CARD_W) / 2, (PAGE_H - ROWS * CARD_H) / 2
QR_SIZE = 46.0  # with the quiet zone: about 0.94 mm a module, easy for a phone camera
CUT_MARK = 5.0
_CACHE_LIMIT = 50_000
_modules_cache: dict[str, Modules] = {}
_INK = bytes.maketrans(b"\x00\x01", b"\xff\x00")  # module 1 is dark: 0 in a grey image


@dataclass(frozen=True)
class PrintCard:
    card_text: str
    card_id: str
    name: str
    team: str


class FontMissing(RuntimeError):
    """No CJK font to print names with; the message says what to install."""


def _encode(text: str) -> Modules:
    qr = qrcode.QRCode(version=CARD_VERSION, error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    qr.add_data(text, optimize=0)
    try:
        qr.make(fit=False)
    except qrcode.exceptions.DataOverflowError:
        qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
        qr.add_data(text, optimize=0)
        qr.make(fit=True)  # longer than any VC1 card, but encode it rather than fail
    return tuple(bytes(row) for row in qr.get_matrix())


def qr_modules(text: str) -> Modules:
    """The QR module matrix for a text, cached: reprints and previews cost nothing."""
    hit = _modules_cache.get(text)
    if hit is None:
        hit = _encode(text)
        _remember(text, hit)
    return hit


def _remember(text: str, modules: Modules) -> None:
    if len(_modules_cache) >= _CACHE_LIMIT:
        _modules_cache.clear()
    _modules_cache[text] = modules


def qr_image(text: str, scale: int = 8) -> Image.Image:
    """A 1-bit image of the code with its quiet zone, `scale` pixels a module."""
    return _modules_image(qr_modules(text), scale)


def _modules_image(modules: Modules, scale: int) -> Image.Image:
    size = len(modules) + 2 * QUIET_ZONE
    pad = b"\xff" * QUIET_ZONE
    blank = b"\xff" * size
    rows = [blank] * QUIET_ZONE + [pad + row.translate(_INK) + pad for row in modules] + [blank] * QUIET_ZONE
    image = Image.frombytes("L", (size, size), b"".join(rows))
    return image.resize((size * scale, size * scale), Image.Resampling.NEAREST).convert("1")


def card_png(card_text: str, scale: int = 8) -> bytes:
    buffer = io.BytesIO()
    qr_image(card_text, scale).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def card_svg(card_text: str) -> str:
    """The code as one SVG path, a unit per module; scales to any size without blurring."""
    modules = qr_modules(card_text)
    size = len(modules) + 2 * QUIET_ZONE
    runs = []
    for y, row in enumerate(modules):
        x = 0
        while x < len(row):
            if row[x]:
                end = row.find(b"\x00", x)
                end = len(row) if end < 0 else end
                runs.append(f"M{x + QUIET_ZONE} {y + QUIET_ZONE}h{end - x}v1h{x - end}z")
                x = end
            else:
                x += 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/><path fill="#000" d="{"".join(runs)}"/></svg>'
    )


def find_cjk_font(path: str | Path | None = None) -> Path:
    """The font for names and teams: an explicit path, else Noto Sans TC from its pip package."""
    if path is not None:
        found = Path(path)
        if not found.is_file():
            raise FontMissing(f"CJK font file not found: {found}")
        return found
    try:
        import pylopdf_fonts_zh_tw
    except ImportError:
        raise FontMissing(
            "no Traditional Chinese font: pip install pylopdf-fonts-zh-tw (Noto Sans TC, SIL OFL) "
            "or pass font=<path to a .ttf/.otf>"
        ) from None
    return Path(pylopdf_fonts_zh_tw.sans_path())


def _modules_in_order(texts: list[str], workers: int) -> Iterator[Modules]:
    """Modules for each text in order; the uncached ones encoded across processes when it pays."""
    missing = list(dict.fromkeys(t for t in texts if t not in _modules_cache))
    if workers > 1 and len(missing) > 200:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            fresh = dict(zip(missing, pool.map(_encode, missing, chunksize=64), strict=True))
            for text in texts:
                if text in fresh and text not in _modules_cache:
                    _remember(text, fresh[text])
                yield fresh.get(text) or qr_modules(text)
        return
    for text in texts:
        yield qr_modules(text)


def _cut_marks(pdf: FPDF) -> None:
    pdf.set_draw_color(0)
    pdf.set_line_width(0.2)
    top, bottom = MARGIN_Y, MARGIN_Y + ROWS * CARD_H
    left, right = MARGIN_X, MARGIN_X + COLS * CARD_W
    for col in range(COLS + 1):
        x = MARGIN_X + col * CARD_W
        pdf.line(x, top - 2 - CUT_MARK, x, top - 2)
        pdf.line(x, bottom + 2, x, bottom + 2 + CUT_MARK)
    for row in range(ROWS + 1):
        y = MARGIN_Y + row * CARD_H
        pdf.line(left - 2 - CUT_MARK, y, left - 2, y)
        pdf.line(right + 2, y, right + 2 + CUT_MARK, y)
    # a faint outline helps with scissors; the guillotine follows the marks
    pdf.set_draw_color(210)
    pdf.set_line_width(0.1)
    for col in range(COLS):
        for row in range(ROWS):
            pdf.rect(MARGIN_X + col * CARD_W, MARGIN_Y + row * CARD_H, CARD_W, CARD_H)


def _fitted(pdf: FPDF, text: str, width: float, largest: float, smallest: float, max_lines: int) -> Fitted:
    def measure(s: str, size: float) -> float:
        pdf.set_font(size=size)
        return pdf.get_string_width(s)

    return fit_text(text, width, measure, largest=largest, smallest=smallest, max_lines=max_lines)


def _text_block(pdf: FPDF, fitted: Fitted, x: float, y: float, width: float, line_h: float) -> None:
    pdf.set_font(size=fitted.size)
    for i, line in enumerate(fitted.lines):
        pdf.set_xy(x, y + i * line_h)
        pdf.cell(width, line_h, line)


def _draw_card(pdf: FPDF, card: PrintCard, qr: Image.Image, x: float, y: float, title: str) -> None:
    pdf.image(qr, x=x + 1.5, y=y + (CARD_H - QR_SIZE) / 2, w=QR_SIZE, h=QR_SIZE)
    text_x, text_w = x + QR_SIZE + 3, CARD_W - QR_SIZE - 5
    room = text_w - 2 * pdf.c_margin  # a cell pads its text on both sides
    # each block shrinks, then wraps, then is cut with an ellipsis: nothing prints past the cut line
    title_fit = _fitted(pdf, title, room, 8, 6, 2)
    pdf.set_text_color(90)
    _text_block(pdf, title_fit, text_x, y + (5 if len(title_fit.lines) == 1 else 3.5), text_w,
                _line_height(title_fit.size))
    pdf.set_text_color(0)
    name_fit = _fitted(pdf, card.name, room, 18, 10, 2)
    if len(name_fit.lines) == 1:
        _text_block(pdf, name_fit, text_x, y + 11, text_w, 9)
    else:
        _text_block(pdf, name_fit, text_x, y + 11, text_w, 4.5)
    _text_block(pdf, _fitted(pdf, card.team, room, 9, 7, 4), text_x, y + 22, text_w, 4.5)
    pdf.set_font(size=8)
    pdf.set_xy(text_x, y + CARD_H - 10)
    card_no = card.card_id if len(card.card_id) != 8 else f"{card.card_id[:4]} {card.card_id[4:]}"
    pdf.cell(text_w, 4, f"No. {card_no}")


def _line_height(size_pt: float) -> float:
    return size_pt * 25.4 / 72 * 1.25


def cards_pdf(
    cards: Iterable[PrintCard],
    out_path: str | Path | io.BytesIO,
    progress: bool = True,
    *,
    title: str = "志工服務證",
    font: str | Path | None = None,
    workers: int | None = None,
    advance: Callable[[int], object] | None = None,
) -> int:
    """Write the cards as A4 sheets of ten with cut marks; returns the number of pages.
    `advance(n)` is told of every card drawn (the console's progress bar); `out_path` may be an io.BytesIO."""
    cards = list(cards)
    font_path = find_cjk_font(font)
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(title)
    pdf.add_font("cjk", fname=str(font_path))
    pdf.set_font("cjk")
    per_page = COLS * ROWS
    texts = [card.card_text for card in cards]
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    bar = tqdm(total=len(cards), unit="card", desc="print cards", file=sys.stderr, disable=not progress)
    with bar:
        for index, (card, modules) in enumerate(zip(cards, _modules_in_order(texts, workers), strict=True)):
            slot = index % per_page
            if slot == 0:
                pdf.add_page()
                _cut_marks(pdf)
            # 4 px a module keeps edges sharp even in viewers that smooth images
            image = _modules_image(modules, 4)
            col, row = slot % COLS, slot // COLS
            _draw_card(pdf, card, image, MARGIN_X + col * CARD_W, MARGIN_Y + row * CARD_H, title)
            bar.update()
            if advance is not None:
                advance(index + 1)
    pdf.output(out_path if isinstance(out_path, io.BytesIO) else str(out_path))
    return pdf.pages_count

