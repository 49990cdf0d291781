"""Printed cards must scan back to a card that verifies, and names must print in Chinese."""

from __future__ import annotations

import io
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import zxingcpp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image
from pypdf import PdfReader

import checkin.cards.printing as card_print
from checkin.cards.format import key_id_for, new_card_id, parse_card, sign_card
from checkin.cards.printing import FontMissing, PrintCard, card_png, card_svg, cards_pdf, qr_modules

KEY = Ed25519PrivateKey.generate()
PUBLIC = {key_id_for(KEY.public_key()): KEY.public_key()}


def new_card(name: str = "陳淑芬", team: str = "大安區公所志工隊") -> PrintCard:
    card_id = new_card_id()
    return PrintCard(sign_card(KEY, card_id), card_id, name, team)


def decode(image: Image.Image) -> list[str]:
    return [result.text for result in zxingcpp.read_barcodes(image)]


def test_png_decodes_to_a_card_that_verifies() -> None:
    card = new_card()
    image = Image.open(io.BytesIO(card_png(card.card_text)))
    (text,) = decode(image)
    assert text == card.card_text
    check = parse_card(text, PUBLIC)
    assert check.ok and check.card_id == card.card_id


def test_a_one_character_change_is_refused() -> None:
    text = new_card().card_text
    tampered = text[:-1] + ("A" if text[-1] != "A" else "B")
    image = Image.open(io.BytesIO(card_png(tampered)))
    (scanned,) = decode(image)
    assert scanned == tampered
    assert parse_card(scanned, PUBLIC).reason == "invalid_card"


def test_card_fits_version_6_at_level_m() -> None:
    result = zxingcpp.read_barcodes(Image.open(io.BytesIO(card_png(new_card().card_text))))[0]
    assert len(qr_modules(result.text)) == 41  # 17 + 4 * version
    assert result.ec_level == "M"


def test_svg_draws_exactly_the_dark_modules() -> None:
    text = new_card().card_text
    root = ET.fromstring(card_svg(text))
    path = root.find("{http://www.w3.org/2000/svg}path")
    assert path is not None
    modules = qr_modules(text)
    drawn = [bytearray(len(modules)) for _ in modules]
    for run in path.get("d", "").split("z")[:-1]:
        start, rest = run[1:].split("h", 1)
        x, y = (int(v) - card_print.QUIET_ZONE for v in start.split())
        width = int(rest.split("v")[0])
        drawn[y][x:x + width] = b"\x01" * width
    assert tuple(bytes(row) for row in drawn) == modules


def test_parallel_encoding_matches_serial() -> None:
    texts = [new_card().card_text for _ in range(201)]
    card_print._modules_cache.clear()
    parallel = list(card_print._modules_in_order(texts, workers=2))
    card_print._modules_cache.clear()
    assert parallel == [card_print._encode(t) for t in texts]


@pytest.fixture(scope="module")
def sheet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[PrintCard]]:
    cards = [new_card(f"測試{i:02d}", "觀光傳播局導覽志工隊") for i in range(12)]
    out = tmp_path_factory.mktemp("cards") / "cards.pdf"
    assert cards_pdf(cards, out, progress=False) == 2
    return out, cards


def test_pdf_embeds_a_cjk_font_and_the_names(sheet) -> None:
    out, cards = sheet
    reader = PdfReader(out)
    assert len(reader.pages) == 2
    fonts = reader.pages[0]["/Resources"]["/Font"]
    font = next(iter(fonts.values())).get_object()
    descendant = font["/DescendantFonts"][0].get_object()
    assert "NotoSansTC" in font["/BaseFont"]
    assert "/FontFile3" in descendant["/FontDescriptor"] or "/FontFile2" in descendant["/FontDescriptor"]
    # pypdf reads fpdf2's embedded CMap as two-byte codes and leaves a NUL before each character;
    # poppler's pdftotext reads the same file cleanly, so the mapping itself is right
    text = reader.pages[0].extract_text().replace("\x00", "")
    assert "志工服務證" in text and "觀光傳播局導覽志工隊" in text
    assert all(card.name in text for card in cards[:10])
    assert cards[10].name in reader.pages[1].extract_text().replace("\x00", "")


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
def test_printed_page_scans_back(sheet, tmp_path: Path) -> None:
    out, cards = sheet
    subprocess.run(["pdftoppm", "-r", "150", "-f", "1", "-l", "1", "-png", str(out), str(tmp_path / "page")],
                   check=True)
    (page,) = tmp_path.glob("page*.png")
    assert sorted(decode(Image.open(page))) == sorted(card.card_text for card in cards[:10])


def test_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FontMissing, match="not found"):
        cards_pdf([new_card()], tmp_path / "x.pdf", progress=False, font=tmp_path / "nope.ttf")


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not installed")
def test_every_word_on_a_sheet_lies_inside_its_card(tmp_path: Path) -> None:
    # the demo's own event name is what ran past the cut line; long names and teams are the other risks
    from checkin.events.demo import EVENT_NAME

    title = f"{EVENT_NAME} 志工服務證"
    people = [("歐陽娜娜美", "臺北市政府觀光傳播局導覽志工隊第一分隊"),
              ("Maria Fernanda Gonzalez Rodriguez", "臺北市政府社會局老人福利科銀髮族陪伴關懷志工服務隊北投區分隊"),
              ("陳淑芬", "")] * 4
    cards = [new_card(name, team) for name, team in people[:10]]
    out = tmp_path / "cards.pdf"
    cards_pdf(cards, out, progress=False, title=title)
    bbox = subprocess.run(["pdftotext", "-bbox", "-f", "1", "-l", "1", str(out), "-"],
                          check=True, capture_output=True, text=True).stdout
    ns = {"x": "http://www.w3.org/1999/xhtml"}
    page = ET.fromstring(bbox).find(".//x:page", ns)
    assert page is not None
    mm = 72 / 25.4
    per_card: dict[tuple[int, int], list[str]] = {}
    words = page.findall("x:word", ns)
    assert words
    for word in words:
        x0, y0, x1, y1 = (float(word.get(k, "nan")) / mm for k in ("xMin", "yMin", "xMax", "yMax"))
        col = int(((x0 + x1) / 2 - card_print.MARGIN_X) // card_print.CARD_W)
        row = int(((y0 + y1) / 2 - card_print.MARGIN_Y) // card_print.CARD_H)
        left, top = card_print.MARGIN_X + col * card_print.CARD_W, card_print.MARGIN_Y + row * card_print.CARD_H
        inside = (0 <= col < card_print.COLS and 0 <= row < card_print.ROWS
                  and left <= x0 and x1 <= left + card_print.CARD_W and top <= y0 and y1 <= top + card_print.CARD_H)
        assert inside, f"{word.text!r} at x {x0:.1f}–{x1:.1f} mm, y {y0:.1f}–{y1:.1f} mm leaves card ({col}, {row})"
        per_card.setdefault((col, row), []).append(word.text or "")
    assert len(per_card) == 10
    for printed in per_card.values():
        assert title.replace(" ", "") in "".join(printed)  # shrunk or wrapped, but whole
