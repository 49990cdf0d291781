"""`checkin user add` prints a one-time set-password link, and `checkin user reset` makes a new one and unlocks the
sign-in: both through the CLI's own argument parsing, their links used at the gateway."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import json
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

import checkin.cli.admin as admin
from checkin.access.signin_rules import LOCK_AFTER
from checkin.cli.main import cmd_admin
from checkin.config import Config
from checkin.gateway.app import create_app
from loadtest.event_factory import Scenario

PASSWORD = "lantern-festival-2024"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    admin.add_parsers(p.add_subparsers(dest="command", required=True), cmd_admin)
    return p


async def run(argv: list[str], config: Config) -> int:
    """As `checkin` runs a command: parsed, then dispatched (which says a refusal on stderr and returns its code)."""
    return await admin.dispatch(config, parser().parse_args(argv))


def code_of(link: str) -> str:
    assert "/kiosk/console/password.html#code=" in link, link
    return link.split("#code=")[1].strip()


async def test_user_add_prints_a_link_and_user_reset_makes_a_new_one_and_unlocks(
        aiohttp_client: Any, scenario: Scenario, test_config: Config, pg_pool: asyncpg.Pool,
        capsys: pytest.CaptureFixture[str]) -> None:
    gateway: TestClient = await aiohttp_client(create_app(dataclasses.replace(
        test_config, signin_backoff_ms=0, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))))
    login = f"desk-{scenario.event_id}"
    argv = ["user", "add", "--role", "coordinator", "--event", scenario.event_id, "--name", "王協調",
            "--login", login, "--base-url", "https://checkin.example.tw"]
    assert await run(argv, test_config) == 0
    out = capsys.readouterr()
    added = json.loads(out.out)
    assert added["login"] == login and added["token"].startswith(added["user_id"] + ".")
    assert added["password_link"].startswith("https://checkin.example.tw/kiosk/console/password.html#code=")
    assert added["password_link"] in out.err  # and said for a person to read
    first = code_of(added["password_link"])
    # the same login twice is refused, naming it
    assert await run(argv, test_config) == 1
    assert "taken" in capsys.readouterr().err

    resp = await gateway.post("/api/v1/password", json={"code": first, "password": PASSWORD})
    assert resp.status == 200, await resp.text()
    for n in range(LOCK_AFTER):  # wrong passwords until the sign-in locks (from distinct addresses: no budget)
        resp = await gateway.post("/api/v1/signin", json={"login": login, "password": f"wrong {n}"},
                                  headers={"X-Forwarded-For": f"198.18.9.{n + 1}"})
        assert resp.status == 401
    pg_guard = await pg_pool.fetchval("SELECT locked_at IS NOT NULL FROM signin_guard WHERE login = $1", login)
    assert pg_guard is True

    assert await run(["user", "reset", added["user_id"]], test_config) == 0
    second = code_of(capsys.readouterr().out.splitlines()[-1])
    assert await pg_pool.fetchval("SELECT count(*) FROM signin_guard WHERE login = $1", login) == 0  # unlocked
    resp = await gateway.post("/api/v1/password", json={"code": second, "password": "a new one, long enough"})
    assert resp.status == 200
    assert (await gateway.post("/api/v1/password", json={"code": first, "password": PASSWORD})).status == 410

    assert await run(["user", "reset", "U-nobody"], test_config) == 1
