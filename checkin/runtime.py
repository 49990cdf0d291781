"""Where a command finds its servers: configured URLs, or those of a running `checkin up`."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from checkin.config import Config, ConfigError


def run_file(config: Config) -> Path:
    return config.data_dir / "run.json"


def write_run_file(config: Config, postgres_url: str, redis_url: str) -> None:
    path = run_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(orjson.dumps({"pid": os.getpid(), "postgres_url": postgres_url, "redis_url": redis_url}))


def _alive(pid: int) -> bool:
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
