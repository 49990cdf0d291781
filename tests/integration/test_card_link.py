"""The digital card link: GET /api/v1/card works, stops on revoke and reissue, and its SVG reads back."""

from __future__ import annotations

import re

import asyncpg
import pytest
import redis.asyncio as aioredis
from PIL import Image, ImageDraw

from checkin.cards.links import card_url, create_link, revoke_links
from checkin.cards.store import reissue_card, revoke_card
from checkin.keys import Keys
from loadtest.event_factory import SIGNING_KEY, Scenario


def decode_svg(svg: str) -> str:
    """Rasterise card_svg's one-path QR (runs of M x y h w v1 ...) and read it with zxing."""
    import zxingcpp

    size = int(re.search(r'viewBox="0 0 (\d+) ', svg).group(1))  # type: ignore[union-attr]
    scale = 8
    image = Image.new("L", (size * scale, size * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)", svg):
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle((x0, y0, x0 + int(w) * scale - 1, y0 + scale - 1), fill=0)
    (found,) = zxingcpp.read_barcodes(image)
    return str(found.text)


async def _card_id(pool: asyncpg.Pool, volunteer_id: str) -> str:
    return str(await pool.fetchval("SELECT card_id FROM cards WHERE volunteer_id = $1 AND status = 'active'",
                                   volunteer_id))


async def test_link_shows_the_card(gateway, scenario: Scenario, pg_pool: asyncpg.Pool) -> None:  # type: ignore[no-untyped-def]
    vid, text = scenario.cards[0]
    async with pg_pool.acquire() as conn:
        token, card_id = await create_link(conn, vid)
    assert card_url("https://gw.example/", token) == f"https://gw.example/kiosk/card.html#t={token}"
    assert await pg_pool.fetchval("SELECT count(*) FROM card_links WHERE token_hash = $1", token) == 0  # hashed

    resp = await gateway.get("/api/v1/card", params={"token": token})
    assert resp.status == 200, await resp.text()
    assert resp.headers["Cache-Control"] == "no-store"
    body = await resp.json()
    assert body["card_text"] == text and body["card_id"] == card_id
    assert body["display_name"] == "志○○○○號" and body["team"] == "測試志工隊"  # masked as on gate screens
    assert decode_svg(body["svg"]) == text
    # the same answer with the token as a Bearer header
    resp = await gateway.get("/api/v1/card", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200 and (await resp.json())["card_id"] == card_id


async def test_revoked_card_link_is_gone(gateway, scenario: Scenario, pg_pool: asyncpg.Pool,  # type: ignore[no-untyped-def]
                                         redis_client: aioredis.Redis, keys: Keys) -> None:
    vid, _ = scenario.cards[1]
    async with pg_pool.acquire() as conn:
        token, card_id = await create_link(conn, vid)
        assert (await gateway.get("/api/v1/card", params={"token": token})).status == 200
        await revoke_card(conn, redis_client, keys, card_id, "lost")
    resp = await gateway.get("/api/v1/card", params={"token": token})
    assert resp.status == 410
    body = await resp.json()
    assert body["error"] == "card_revoked" and "card_text" not in body
    async with pg_pool.acquire() as conn:
        with pytest.raises(LookupError):  # no active card: no new link either
            await create_link(conn, vid)


async def test_reissue_stops_old_links_and_new_link_works(gateway, scenario: Scenario,  # type: ignore[no-untyped-def]
                                                          pg_pool: asyncpg.Pool, redis_client: aioredis.Redis,
                                                          keys: Keys) -> None:
    vid, old_text = scenario.cards[2]
    async with pg_pool.acquire() as conn:
        old, _ = await create_link(conn, vid)
        new_card = await reissue_card(conn, redis_client, keys, SIGNING_KEY, vid)
        new, new_id = await create_link(conn, vid)
    assert new_id == new_card.card_id
    assert (await gateway.get("/api/v1/card", params={"token": old})).status == 410
    resp = await gateway.get("/api/v1/card", params={"token": new})
    assert resp.status == 200
    body = await resp.json()
    assert body["card_text"] == new_card.text != old_text
    assert decode_svg(body["svg"]) == new_card.text


async def test_revoked_link_alone_is_gone_and_the_card_still_works(gateway, scenario: Scenario,  # type: ignore[no-untyped-def]
                                                                   pg_pool: asyncpg.Pool) -> None:
    vid, _ = scenario.cards[3]
    async with pg_pool.acquire() as conn:
        token, card_id = await create_link(conn, vid)
        assert await revoke_links(conn, vid) == 1
    assert (await gateway.get("/api/v1/card", params={"token": token})).status == 410
    assert await _card_id(pg_pool, vid) == card_id


@pytest.mark.parametrize(("query", "status", "error"), [
    ({"token": "A" * 32}, 404, "unknown_link"),
    ({"token": "short"}, 400, "invalid_field"),
    ({"token": "x" * 32 + "%00"}, 400, "invalid_field"),
    ({}, 400, "invalid_field"),
])
async def test_unknown_or_malformed_token(gateway, query: dict[str, str], status: int, error: str) -> None:  # type: ignore[no-untyped-def]
    resp = await gateway.get("/api/v1/card", params=query)
    assert resp.status == status
    assert (await resp.json())["error"] == error
