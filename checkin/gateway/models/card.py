"""GET /api/v1/card: a volunteer's digital card from their personal link."""

from __future__ import annotations

import msgspec


class CardQuery(msgspec.Struct):
    token: str | msgspec.UnsetType = msgspec.UNSET  # the t= part of the card link (or the Bearer token)


class Card(msgspec.Struct, forbid_unknown_fields=True):
    card_text: str
    card_id: str
    display_name: str
    team: str | None
    svg: str
