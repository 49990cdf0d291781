"""A certificate as an A4 PDF: the hours by day, the certificate number and check code, and a QR code
linking to the server's verification page. fpdf2 with the same Noto Sans TC as the service cards."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fpdf import FPDF
from fpdf.enums import WrapMode
from fpdf.fonts import FontFace
from tqdm import tqdm

from checkin.cards.printing import _modules_in_order, find_cjk_font, qr_image
from checkin.certificates.store import Certificate
from checkin.hours.exports import hours_text

PAGE_W = 210.0
MARGIN = 22.0
QR_SIZE = 42.0
TITLE = "志願服務證明"


def _issued_text(issued_at: datetime, timezone: str) -> str:
    local = issued_at.astimezone(ZoneInfo(timezone))
    return f"{local.year} 年 {local.month} 月 {local.day} 日"


def _document(title: str, font: str | Path | None) -> FPDF:
    pdf = FPDF(unit="mm", format="A4")
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_title(title)
    pdf.add_font("cjk", fname=str(find_cjk_font(font)))
    return pdf


def certificate_pdf(cert: Certificate, url: str, *, issuer: str = "", timezone: str = "Asia/Taipei",
                    font: str | Path | None = None) -> bytes:
    """The printable certificate; url is where its QR code leads (checkin.certificates.verify_url)."""
    pdf = _document(f"{TITLE} {cert.content.name} {cert.content.event_name}", font)
    _draw(pdf, cert, url, issuer, timezone)
    return bytes(pdf.output())


def certificates_pdf(certs: Sequence[tuple[Certificate, str]], out_path: str | Path, *, issuer: str = "",
                     timezone: str = "Asia/Taipei", font: str | Path | None = None, progress: bool = True) -> int:
    """Many certificates in one file, a page each (the font is embedded once); returns the number of pages."""
    pdf = _document(TITLE, font)
    for _ in _modules_in_order([url for _, url in certs], min(4, os.cpu_count() or 1)):
        pass  # QR codes encoded across processes first (the costly part); drawing then finds them cached
    with tqdm(total=len(certs), unit="cert", desc="certificates", file=sys.stderr, disable=not progress) as bar:
        for cert, url in certs:
            _draw(pdf, cert, url, issuer or cert.content.unit, timezone)
            bar.update()
    pdf.output(str(out_path))
    return pdf.pages_count


def _draw(pdf: FPDF, cert: Certificate, url: str, issuer: str, timezone: str) -> None:
    c = cert.content
    pdf.set_auto_page_break(True, margin=MARGIN + QR_SIZE + 8)
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN

    pdf.set_font("cjk", size=28)
    pdf.cell(width, 16, TITLE, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("cjk", size=11)
    pdf.set_text_color(90)
    pdf.cell(width, 6, "Certificate of Volunteer Service", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.ln(10)

    book = f"（志願服務紀錄冊編號 {c.record_book_no}）" if c.record_book_no else ""
    team = f"{c.team}" if c.team else ""
    unit = f"，經{c.unit}核計" if c.unit else ""
    pdf.set_font("cjk", size=13)
    pdf.multi_cell(width, 8, f"茲證明 {c.name} 君{book}參與「{c.event_name}」{team}志願服務{unit}，"
                             f"服務日期與時數如下：", align="L", wrapmode=WrapMode.CHAR, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)

    pdf.set_font("cjk", size=12)
    # No bold: the CJK font has one weight; a grey fill marks the heading instead.
    heading = FontFace(emphasis="", fill_color=(230, 230, 230))
    with pdf.table(col_widths=(1, 1), text_align=("CENTER", "CENTER"), line_height=8,
                   headings_style=heading) as table:
        table.row(("服務日期 Date", "服務時數 Hours"))
        for day in c.days:
            table.row((day.day, hours_text(day.minutes)))
        table.row(("合計 Total", hours_text(c.total_minutes)))
    pdf.ln(6)
    pdf.set_font("cjk", size=11)
    if issuer:
        pdf.cell(width, 7, f"發證單位 Issued by：{issuer}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 7, f"發證日期 Issued on：{_issued_text(cert.issued_at, timezone)}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 7, f"證明編號 No.：{cert.cert_id}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(width, 7, f"核驗碼 Check code：{cert.code}", new_x="LMARGIN", new_y="NEXT")

    # The QR and its explanation at the foot of the page, whatever the table's length.
    top = 297.0 - MARGIN - QR_SIZE
    pdf.set_auto_page_break(False)
    pdf.image(qr_image(url, scale=4), x=MARGIN, y=top, w=QR_SIZE, h=QR_SIZE)
    text_x = MARGIN + QR_SIZE + 6
    pdf.set_xy(text_x, top + 2)
    pdf.set_font("cjk", size=10)
    pdf.multi_cell(width - QR_SIZE - 6, 5.5,
                   "掃描 QR 碼或開啟下列網址，向發證伺服器核驗本證明是否為真、內容是否相同，"
                   "以及是否已被更正或撤銷；核驗碼應與本頁相符。", align="L", wrapmode=WrapMode.CHAR, new_x="LEFT", new_y="NEXT")
    pdf.set_font("cjk", size=8)
    pdf.set_text_color(90)
    pdf.multi_cell(width - QR_SIZE - 6, 4.5,
                   "Scan the code or open the address below to check with the issuing server that this "
                   "certificate is genuine, unchanged and current.", align="L", new_x="LEFT", new_y="NEXT")
    pdf.set_text_color(0)
    pdf.set_font("cjk", size=9)
    pdf.multi_cell(width - QR_SIZE - 6, 5, url, align="L", new_x="LEFT", new_y="NEXT")
