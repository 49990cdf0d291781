"""A volunteer's digital card: GET /api/v1/card?token=... (or the token as Bearer), read by kiosk/card.html."""

from __future__ import annotations

import asyncio
from functools import lru_cache

import asyncpg
from aiohttp import web

from checkin.cards.links import TOKEN_RE, card_for_link
from checkin.cards.printing import card_svg
from checkin.events.store import mask_name
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.errors import ApiError, json_response
from checkin.gateway.models.card import Card, CardQuery
from checkin.gateway.state import state_key
from checkin.tokens import bearer

# Personal data: no shared cache may keep it, and the page keeps its own copy for offline use.
_PRIVATE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@lru_cache(maxsize=2048)
def _svg(card_text: str) -> str:
    return card_svg(card_text)  # choosing the QR mask costs milliseconds: once per card per process


async def get_card(request: web.Request) -> web.Response:
    token = request.query.get("token") or bearer(request.headers.get("Authorization"))
    if not token or not TOKEN_RE.match(token):
        raise ApiError(400, "invalid_field", "token is required: the t= part of the card link", "token")
    state = request.app[state_key]
    try:
        card = await card_for_link(state.pool, token)
    # InternalClientError: the connection died mid-query (a killed postmaster), leaving asyncpg out of step.
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError):
        raise ApiError(503, "unavailable", "the database is unreachable; retry shortly",
                       headers={"Retry-After": "5"}) from None
    if card is None:
        raise ApiError(404, "unknown_link", "this card link was not issued here", "token")
    if not card.active:
        raise ApiError(410, "card_revoked", "this card was revoked or replaced; ask your team for a new link",
                       headers=_PRIVATE)
    svg = await asyncio.to_thread(_svg, card.card_text)
    return json_response({"card_text": card.card_text, "card_id": card.card_id,
                          "display_name": mask_name(card.name), "team": card.team, "svg": svg}, headers=_PRIVATE)


def setup(app: web.Application) -> None:
    route(app, "GET", "/api/v1/card", get_card,
          Doc("A volunteer's digital card from their personal link", answer=Card, query=CardQuery, auth="card_link",
              errors=("unavailable",)))
