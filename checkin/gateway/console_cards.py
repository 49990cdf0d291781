"""The console's cards page: how many of the event's volunteers hold a card, issuing the missing ones, a PDF
of a team's or everyone's cards with its progress, reissuing or revoking one card with a reason, and a
volunteer's personal card link as a QR code. Admins only; every change is audited."""

from __future__ import annotations

import asyncio
import base64
import io
from typing import Any, NamedTuple

import orjson
from aiohttp import web

import checkin.access.operations as ops
import checkin.cards.store as card_store
from checkin.access.audit import audit
from checkin.cards.format import load_or_create_private_key
from checkin.cards.links import card_url, create_link
from checkin.cards.printing import cards_pdf
from checkin.cards.sheets import issue_missing, print_cards
from checkin.gateway.api_doc import Doc, route
from checkin.gateway.console_common import admin_of, read_object, read_text, reason, reload_if_live
from checkin.gateway.errors import ApiError, json_response, postgres_guard
from checkin.gateway.links import base_url
from checkin.gateway.qr import link_svg
from checkin.gateway.requests import path_id
from checkin.gateway.state import GatewayState, state_key

PREFIX = "/api/v1/events/{event_id}"

PROGRESS_EVERY_S = 0.25


async def get_cards(request: web.Request) -> web.Response:
    """Per team of the event: volunteers assigned and how many hold an active card."""
    event_id, _ = await admin_of(request)
    async with postgres_guard():
        rows = await request.app[state_key].pool.fetch(
            "SELECT v.team_id, coalesce(t.name, '') AS name, count(*) AS assigned,"
            " count(c.card_id) AS active FROM (SELECT DISTINCT volunteer_id FROM assignments WHERE event_id = $1) a"
            " JOIN volunteers v USING (volunteer_id) LEFT JOIN teams t USING (team_id)"
            " LEFT JOIN cards c ON c.volunteer_id = v.volunteer_id AND c.status = 'active'"
            " GROUP BY v.team_id, t.name ORDER BY t.name, v.team_id", event_id)
    teams = [dict(r) for r in rows]
    assigned, active = sum(t["assigned"] for t in teams), sum(t["active"] for t in teams)
    return json_response({"assigned": assigned, "active": active, "missing": assigned - active, "teams": teams})


async def post_issue(request: web.Request) -> web.Response:
    event_id, who = await admin_of(request)
    state = request.app[state_key]
    key = await asyncio.to_thread(load_or_create_private_key, state.config.key_path)
    async with postgres_guard(), state.pool.acquire() as conn:
        async with conn.transaction():
            issued, had = await issue_missing(conn, key, event_id)
            await audit(conn, who.user_id, "cards_issue", event_id, None, {"issued": len(issued), "had": had})
        await reload_if_live(conn, state, event_id)
        # The first cards of a new signing key: this gateway knows it at once (the others on their refresh).
        await state.refresh_keys()
    return json_response({"issued": len(issued), "had": had})


def _line(data: dict[str, Any]) -> bytes:
    return orjson.dumps(data) + b"\n"


async def post_print(request: web.Request) -> web.StreamResponse:
    """NDJSON: {"done", "total"} lines while the PDF is drawn (in a thread: the gateway keeps answering),
    then one line with the PDF in base64. A refusal before the first line is an ordinary JSON error."""
    event_id, who = await admin_of(request)
    body = await read_object(request) if request.body_exists else {}
    team_id = read_text(body, "team_id", required=False, most=64)
    state = request.app[state_key]
    async with postgres_guard():
        name = await state.pool.fetchval("SELECT name FROM events WHERE event_id = $1", event_id)
        cards = await print_cards(state.pool, event_id, team_id)
        if not cards:
            raise ApiError(409, "no_cards", "no volunteer here holds an active card: issue the cards first",
                           "team_id" if team_id else None)
        await audit(state.pool, who.user_id, "cards_print", event_id, team_id, {"cards": len(cards)})
    response = web.StreamResponse(headers={"Content-Type": "application/x-ndjson", "Cache-Control": "no-store"})
    await response.prepare(request)
    done = [0]  # written by the drawing thread, read here
    pdf = io.BytesIO()

    def advance(n: int) -> None:
        done[0] = n

    # One worker: the gateway process is not forked for a pool while it serves (QR codes cost ~7 ms each).
    drawing = asyncio.ensure_future(asyncio.to_thread(
        cards_pdf, cards, pdf, False, title=f"{name} 志工服務證", workers=1, advance=advance))
    shown = -1
    while not drawing.done():
        await asyncio.wait({drawing}, timeout=PROGRESS_EVERY_S)
        if done[0] != shown:
            shown = done[0]
            await response.write(_line({"done": shown, "total": len(cards)}))
    pages = drawing.result()
    await response.write(_line({"done": len(cards), "total": len(cards), "pages": pages,
                                "pdf": base64.b64encode(pdf.getvalue()).decode("ascii")}))
    await response.write_eof()
    return response


async def _on_event(state: GatewayState, event_id: str, volunteer_id: str) -> None:
    async with postgres_guard():
        found = await state.pool.fetchval(
            "SELECT 1 FROM assignments WHERE event_id = $1 AND volunteer_id = $2 LIMIT 1", event_id, volunteer_id)
    if not found:
        raise ApiError(404, "not_on_roster", "no such volunteer on this event's roster", "volunteer_id")


class _CardChange(NamedTuple):
    state: GatewayState
    event_id: str
    who: ops.Operator
    volunteer_id: str
    why: str


async def _card_change(request: web.Request) -> _CardChange:
    """A reissue or a revoke: the admin, the volunteer (on the event's roster) and the reason, checked in that order."""
    event_id, who = await admin_of(request)
    volunteer_id = path_id(request, "volunteer_id")
    why = reason(await read_object(request))
    state = request.app[state_key]
    await _on_event(state, event_id, volunteer_id)
    return _CardChange(state, event_id, who, volunteer_id, why)


async def post_reissue(request: web.Request) -> web.Response:
    state, event_id, who, volunteer_id, why = await _card_change(request)
    key = await asyncio.to_thread(load_or_create_private_key, state.config.key_path)
    async with postgres_guard(), state.pool.acquire() as conn:
        card = await card_store.reissue_card(conn, state.redis, state.keys, key, volunteer_id, why)
        await audit(conn, who.user_id, "card_reissue", event_id, volunteer_id, {"card_id": card.card_id, "reason": why})
        await reload_if_live(conn, state, event_id)
        await state.refresh_keys()
    return json_response({"volunteer_id": volunteer_id, "card_id": card.card_id})


async def post_revoke(request: web.Request) -> web.Response:
    state, event_id, who, volunteer_id, why = await _card_change(request)
    async with postgres_guard(), state.pool.acquire() as conn:
        card_id = await conn.fetchval(
            "SELECT card_id FROM cards WHERE volunteer_id = $1 AND status = 'active'", volunteer_id)
        if card_id is None:
            raise ApiError(409, "no_active_card", "the volunteer holds no active card", "volunteer_id")
        await card_store.revoke_card(conn, state.redis, state.keys, card_id, why)
        await audit(conn, who.user_id, "card_revoke", event_id, volunteer_id, {"card_id": card_id, "reason": why})
    return json_response({"volunteer_id": volunteer_id, "card_id": card_id, "revoked": True})


async def post_card_link(request: web.Request) -> web.Response:
    """A new personal link (shown once) and its QR code, to send or to scan off the screen."""
    event_id, who = await admin_of(request)
    volunteer_id = path_id(request, "volunteer_id")
    state = request.app[state_key]
    await _on_event(state, event_id, volunteer_id)
    async with postgres_guard(), state.pool.acquire() as conn:
        try:
            token, card_id = await create_link(conn, volunteer_id)
        except LookupError:
            raise ApiError(409, "no_active_card", "the volunteer holds no active card: issue one first",
                           "volunteer_id") from None
        await audit(conn, who.user_id, "card_link", event_id, volunteer_id, {"card_id": card_id})
    url = card_url(base_url(request), token)
    return json_response({"volunteer_id": volunteer_id, "card_id": card_id, "url": url,
                          "svg": await asyncio.to_thread(link_svg, url)}, headers={"Cache-Control": "no-store"})


def setup(app: web.Application) -> None:
    volunteer = ("invalid_json", "invalid_field", "not_found", "not_on_roster")
    route(app, "GET", PREFIX + "/cards", get_cards,
          Doc("Per team of the event: volunteers on a shift and active cards", auth="user", errors=("not_found",)))
    route(app, "POST", PREFIX + "/cards/issue", post_issue,
          Doc("A first card for each volunteer of the event without one; audited", auth="user", errors=("not_found",)))
    route(app, "POST", PREFIX + "/cards/print", post_print,
          Doc("The cards PDF (everyone's or a team's): progress lines, then the PDF in base64; audited", auth="user",
              media="application/x-ndjson", errors=("invalid_json", "invalid_field", "not_found", "no_cards")))
    route(app, "POST", PREFIX + "/volunteers/{volunteer_id}/card/reissue", post_reissue,
          Doc("A new card for the volunteer, the old one revoked at every gate; a reason; audited", auth="user",
              errors=volunteer))
    route(app, "POST", PREFIX + "/volunteers/{volunteer_id}/card/revoke", post_revoke,
          Doc("The volunteer's card revoked at every gate, with a reason; audited", auth="user",
              errors=(*volunteer, "no_active_card")))
    route(app, "POST", PREFIX + "/volunteers/{volunteer_id}/card-link", post_card_link,
          Doc("A new personal card link (shown once) and its QR code as SVG; audited", auth="user",
              errors=(*volunteer, "no_active_card")))
