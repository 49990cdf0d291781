"""Service cards (志工服務證): the signed QR format, pure and verifiable offline (format), the card rows and
revocations in Postgres (store), the printable A4 sheets (printing; fit shrinks and wraps their text to its
box) and the personal digital-card links (links).
"""
