"""Retiring a card signing key (a leaked key, or one whose cards were all reissued) without SQL: `checkin cards
keys` lists them, `checkin cards retire-key` retires one. Every gateway refuses its cards within KEY_REFRESH_S
(they used to keep it up to 30 s), a kiosk's gate copy stops carrying it, and a retired key file cannot sign
new cards (they would be refused at every gate)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import checkin.cards.store as card_store
import checkin.cli.admin as admin_cli
import checkin.events.store as events
from checkin.cards.format import key_id_for
from checkin.cards.key_ring import KEY_REFRESH_S
from checkin.cli.main import build_parser
from checkin.config import Config
from checkin.errors import Conflict
from checkin.gateway.app import create_app
from checkin.keys import Keys
from loadtest.event_factory import Scenario


def _key_file(path: Path) -> Ed25519PrivateKey:
    key = Ed25519PrivateKey.generate()
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return key


async def _checkin(cfg: Config, *argv: str) -> int:
    """A `checkin` data command as the CLI runs it: parsed, then run with its own connections."""
    return await admin_cli.dispatch(cfg, build_parser().parse_args(list(argv)))


async def _scan(gateway: TestClient, scenario: Scenario, card: str) -> dict[str, object]:
    resp = await gateway.post("/api/v1/scans", json=scenario.scan(card, f"{scenario.event_id}-desk"),
                              headers={"Authorization": f"Bearer {scenario.device_token}"})
    return await resp.json()  # type: ignore[no-any-return]


async def _copy_keys(gateway: TestClient, scenario: Scenario) -> dict[str, str]:
    resp = await gateway.get("/api/v1/device/gate-copy", headers={"Authorization": f"Bearer {scenario.device_token}"})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["public_keys"]  # type: ignore[no-any-return]


async def test_a_retired_key_stops_its_cards_at_every_gateway_and_kiosk_within_seconds(
        aiohttp_client, test_config: Config, scenario: Scenario, pg_pool: asyncpg.Pool,  # type: ignore[no-untyped-def]
        redis_client: aioredis.Redis, keys: Keys, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    leaked = _key_file(tmp_path / "leaked.key")
    leaked_id = key_id_for(leaked.public_key())
    vid = scenario.cards[0][0]
    async with pg_pool.acquire() as conn:
        card = await card_store.reissue_card(conn, redis_client, keys, leaked, vid, "test")
        await events.load_event(conn, redis_client, keys, scenario.event_id)
    gateway = await aiohttp_client(create_app(test_config))
    assert (await _scan(gateway, scenario, card.text))["verdict"] == "checked_in"
    assert leaked_id in await _copy_keys(gateway, scenario)

    capsys.readouterr()
    assert await _checkin(test_config, "cards", "keys") == 0
    listed = {k["key_id"]: k for k in orjson.loads(capsys.readouterr().out)}
    assert (listed[leaked_id]["active_cards"], listed[leaked_id]["cards"]) == (1, 1)
    assert listed[leaked_id]["retired_at"] is None and listed[leaked_id]["signs_new_cards"] is False

    # A key with working cards is retired only when asked twice; the key new cards are signed with, never.
    assert await _checkin(test_config, "cards", "retire-key", leaked_id) == 1
    assert "signed 1 card(s) that work today" in capsys.readouterr().err
    signing_with_it = replace(test_config, signing_key_path=tmp_path / "leaked.key")
    assert await _checkin(signing_with_it, "cards", "retire-key", leaked_id, "--yes") == 1
    assert "the key new cards are signed with" in capsys.readouterr().err
    assert await pg_pool.fetchval("SELECT retired_at FROM signing_keys WHERE key_id = $1", leaked_id) is None
    assert await _checkin(test_config, "cards", "retire-key", "NOSUCHKEY", "--yes") == 1
    assert "no signing key 'NOSUCHKEY'" in capsys.readouterr().err

    assert await _checkin(test_config, "cards", "retire-key", leaked_id, "--yes") == 0
    said = capsys.readouterr().out
    assert f"retired {leaked_id}: its 1 active card(s) are refused" in said
    retired = time.monotonic()
    while (answer := await _scan(gateway, scenario, card.text))["reason"] != "unknown_key":
        assert time.monotonic() - retired < KEY_REFRESH_S + 5, answer
        await asyncio.sleep(0.2)
    assert answer["verdict"] == "rejected"
    assert leaked_id not in await _copy_keys(gateway, scenario)  # a kiosk drops it with its next copy

    assert await _checkin(test_config, "cards", "retire-key", leaked_id) == 0  # again: said, nothing changed
    assert "was retired at" in capsys.readouterr().out
    async with pg_pool.acquire() as conn:
        with pytest.raises(Conflict) as refused:  # a retired key file would sign cards every gate refuses
            await card_store.reissue_card(conn, redis_client, keys, leaked, vid, "test")
    assert refused.value.code == "key_retired"
