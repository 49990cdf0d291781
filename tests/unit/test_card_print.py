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

from checkin import card_print
from checkin.card_print import FontMissing, PrintCard, card_png, card_svg, cards_pdf, qr_modules
from checkin.cards import key_id_for, new_card_id, parse_card, sign_card

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
