"""Operator commands for gate devices: `checkin device link` prints a one-time enrollment link and its QR."""

from __future__ import annotations

import argparse
import sys
from datetime import timedelta
from typing import Any

import asyncpg
import qrcode
import redis.asyncio as aioredis

from checkin.access.enrollment import create_code, enrollment_link
from checkin.config import Config
from checkin.keys import Keys
from checkin.tls import is_loopback


def gateway_url(cfg: Config, given: str | None = None) -> str:
    """Where phones and verifiers reach the gateway: --base-url, else CHECKIN_PUBLIC_URL, else its address."""
    if given:
        return given
    if cfg.public_url:
        return cfg.public_url
    host = "localhost" if cfg.host in ("0.0.0.0", "::", "127.0.0.1") else cfg.host
    # The gateway serves HTTPS when given a certificate or bound off loopback (see checkin/tls.py).
    scheme = "https" if cfg.tls_cert or not is_loopback(cfg.host) else "http"
    return f"{scheme}://{host}:{cfg.gateway_port}"


async def device_link(cfg: Config, args: argparse.Namespace, conn: asyncpg.Connection,
                      redis: aioredis.Redis, keys: Keys) -> int:
    code = await create_code(conn, args.event, args.gate, args.label, timedelta(minutes=args.ttl_min))
    link = enrollment_link(gateway_url(cfg, args.base_url), code)
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    qr.add_data(link)
    qr.make(fit=True)
    print(f"enrollment link for gate {args.gate} of {args.event} (one use, {args.ttl_min} minutes):")
    print(link)
    if not args.no_qr:
        qr.print_ascii(out=sys.stdout, invert=True)
    if args.png:
        qr.make_image().save(args.png)
        print(f"QR saved to {args.png}")
    return 0


def _device_parsers(sub: Any) -> Any:
    """The `device` command group: the one checkin.cli.admin made (enroll, revoke), or a new one."""
    parent = sub.choices.get("device") or sub.add_parser("device", help="gate devices")
    for action in parent._actions:  # argparse keeps a group's subcommands on this one action
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parent.add_subparsers(dest="device_cmd", required=True)


def add_parsers(sub: Any, run: Any) -> None:
    p = _device_parsers(sub).add_parser(
        "link", help="print a one-time enrollment link and QR for a gate; a kiosk opens it to enroll")
    p.set_defaults(func=run, action=device_link)
    p.add_argument("--event", required=True)
    p.add_argument("--gate", required=True)
    p.add_argument("--label", default="", help="a name for the device, e.g. 'north gate tablet 2'")
    p.add_argument("--base-url", help="the gateway address the kiosk reaches (default from the config)")
    p.add_argument("--ttl-min", type=int, default=24 * 60, help="minutes before the code expires")
    p.add_argument("--png", help="also save the QR as a PNG file")
    p.add_argument("--no-qr", action="store_true", help="print only the link")
