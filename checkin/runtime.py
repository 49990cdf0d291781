"""Where a command finds its servers: configured URLs, or those of a running `checkin up`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson

from checkin.config import Config, ConfigError


def run_file(config: Config) -> Path:
    return config.data_dir / "run.json"


def write_run_file(config: Config, postgres_url: str, redis_url: str,
                   servers: dict[str, dict[str, Any]] | None = None) -> None:
    """The URLs (the Valkey one holds its password, so owner-only) and the embedded servers' states."""
    path = run_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(orjson.dumps({"pid": os.getpid(), "postgres_url": postgres_url, "redis_url": redis_url,
                                   "servers": servers or {}}))
    os.replace(tmp, path)  # readers never see half a file


def embedded_states(config: Config) -> dict[str, dict[str, Any]]:
    """The embedded servers of a running `checkin up` on this data directory, by name; {} when none."""
    try:
        info = orjson.loads(run_file(config).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(info, dict) or not _alive(int(info.get("pid", 0))):
        return {}
    servers = info.get("servers")
    return servers if isinstance(servers, dict) else {}


def _alive(pid: int) -> bool:
    if pid <= 0:  # os.kill(0, ...) would ask about our own process group
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def resolve(config: Config) -> Config:
    """The config with both URLs set, or a ConfigError saying how to get them."""
    if config.postgres_url and config.redis_url:
        return config
    path = run_file(config)
    if path.exists():
        info = orjson.loads(path.read_bytes())
        if _alive(int(info.get("pid", 0))):
            return config.with_urls(config.postgres_url or info["postgres_url"], config.redis_url or info["redis_url"])
    raise ConfigError(
        "no CHECKIN_POSTGRES_URL / CHECKIN_REDIS_URL given and no `checkin up` running for "
        f"data directory {config.data_dir}; start `checkin up` first or set the URLs"
    )
