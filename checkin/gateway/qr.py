"""A link as a QR code for a screen (an enrollment link, a personal card link): SVG made server-side, so the
pages need no QR library and the CSP no exception. White background: phones read it off a dark page too."""

from __future__ import annotations

import qrcode
import qrcode.image.svg


def link_svg(link: str) -> str:
    image = qrcode.make(link, image_factory=qrcode.image.svg.SvgPathImage,
                        error_correction=qrcode.constants.ERROR_CORRECT_M)
    svg = image.to_string(encoding="unicode")
    return str(svg).replace("<path ", '<rect width="100%" height="100%" fill="#fff"/><path ', 1)
