"""All configuration, read from CHECKIN_* environment variables in one place and validated at start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit


class ConfigError(Exception):
    """A configuration value is unusable; the message is one line meant for the operator."""


@dataclass(frozen=True)
class Config:
    postgres_url: str | None = None  # None: start the embedded PostgreSQL
    redis_url: str | None = None  # None: start the embedded Valkey
    redis_prefix: str = "checkin"
    data_dir: Path = Path(".checkin-data")
    host: str = "127.0.0.1"
    gateway_port: int = 8080
    live_port: int = 8765
    embedded_redis_port: int = 6390
    signing_key_path: Path | None = None  # default: <data_dir>/keys/signing.key
    gateway_workers: int = 2
    recorder_batch: int = 5000  # the most one read takes; a quiet stream gives small batches anyway
    recorder_block_ms: int = 200
    recorder_claim_idle_ms: int = 30_000
    recorder_max_deliveries: int = 5
    recorder_metrics_port: int = 0  # 0: no /metrics endpoint
    stream_max_backlog: int = 2_000_000
    max_body_bytes: int = 1_048_576
    device_scans_per_s: int = 10  # per device token and gateway process; 0 turns the limit off
    log_level: str = "INFO"
    tls_cert: Path | None = None  # PEM certificate chain for the gateway; with tls_key
    tls_key: Path | None = None  # PEM private key; neither set + non-loopback host: a local CA is made
    public_url: str | None = None  # how volunteers and verifiers reach the gateway (certificate QR codes)
    extra: Mapping[str, str] = field(default_factory=dict)

    @property
    def key_path(self) -> Path:
        return self.signing_key_path or self.data_dir / "keys" / "signing.key"

    @property
    def pii_key_path(self) -> Path:
        """The AES key national ID numbers are encrypted with (checkin/pii.py)."""
        return self.data_dir / "keys" / "pii.key"

    @property
    def embedded(self) -> bool:
        return self.postgres_url is None or self.redis_url is None

    def with_urls(self, postgres_url: str, redis_url: str) -> Config:
        return replace(self, postgres_url=postgres_url, redis_url=redis_url)


_INT_FIELDS = {
    "GATEWAY_PORT": ("gateway_port", 1, 65535),
    "LIVE_PORT": ("live_port", 1, 65535),
    "EMBEDDED_REDIS_PORT": ("embedded_redis_port", 1, 65535),
    "GATEWAY_WORKERS": ("gateway_workers", 1, 64),
    "RECORDER_BATCH": ("recorder_batch", 1, 100_000),
    "RECORDER_BLOCK_MS": ("recorder_block_ms", 1, 60_000),
    "RECORDER_CLAIM_IDLE_MS": ("recorder_claim_idle_ms", 100, 86_400_000),
    "RECORDER_MAX_DELIVERIES": ("recorder_max_deliveries", 1, 1000),
    "RECORDER_METRICS_PORT": ("recorder_metrics_port", 0, 65535),
    "STREAM_MAX_BACKLOG": ("stream_max_backlog", 1000, 1_000_000_000),
    "MAX_BODY_BYTES": ("max_body_bytes", 1024, 64 * 1_048_576),
    "DEVICE_SCANS_PER_S": ("device_scans_per_s", 0, 1_000_000),
}


def _check_postgres_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError(f"CHECKIN_POSTGRES_URL must start with postgresql://, got {parts.scheme or url!r}")
    return url


def _check_redis_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss", "unix", "redis+cluster"):
        raise ConfigError(f"CHECKIN_REDIS_URL must start with redis://, rediss:// or unix://, got {url!r}")
    if parts.scheme in ("redis", "rediss", "redis+cluster"):
        if not parts.hostname:
            raise ConfigError(f"CHECKIN_REDIS_URL has no host: {url!r}")
        try:
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ConfigError(f"CHECKIN_REDIS_URL has a malformed port: {url!r}") from None
    return url


def from_env(environ: Mapping[str, str] | None = None) -> Config:
    """Build the Config from CHECKIN_* variables; raise ConfigError naming the first bad one."""
    env = os.environ if environ is None else environ
    kwargs: dict[str, object] = {}
    if url := env.get("CHECKIN_POSTGRES_URL"):
        kwargs["postgres_url"] = _check_postgres_url(url)
    if url := env.get("CHECKIN_REDIS_URL"):
        kwargs["redis_url"] = _check_redis_url(url)
    if prefix := env.get("CHECKIN_REDIS_PREFIX"):
        if any(c in prefix for c in "{} \t\n"):
            raise ConfigError(f"CHECKIN_REDIS_PREFIX may not contain braces or spaces: {prefix!r}")
        kwargs["redis_prefix"] = prefix
    if data_dir := env.get("CHECKIN_DATA_DIR"):
        kwargs["data_dir"] = Path(data_dir)
    if key := env.get("CHECKIN_SIGNING_KEY"):
        kwargs["signing_key_path"] = Path(key)
    if host := env.get("CHECKIN_HOST"):
        kwargs["host"] = host
    tls_cert, tls_key = env.get("CHECKIN_TLS_CERT"), env.get("CHECKIN_TLS_KEY")
    if bool(tls_cert) != bool(tls_key):
        raise ConfigError("CHECKIN_TLS_CERT and CHECKIN_TLS_KEY go together: set both or neither")
    if tls_cert and tls_key:
        kwargs["tls_cert"], kwargs["tls_key"] = Path(tls_cert), Path(tls_key)
    if public := env.get("CHECKIN_PUBLIC_URL"):
        parts = urlsplit(public)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
            raise ConfigError(f"CHECKIN_PUBLIC_URL must be like https://checkin.example.org, got {public!r}")
        kwargs["public_url"] = public.rstrip("/")
    if level := env.get("CHECKIN_LOG_LEVEL"):
        if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"CHECKIN_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        kwargs["log_level"] = level.upper()
    for suffix, (name, low, high) in _INT_FIELDS.items():
        raw = env.get(f"CHECKIN_{suffix}")
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"CHECKIN_{suffix} must be a whole number, got {raw!r}") from None
        if not low <= value <= high:
            raise ConfigError(f"CHECKIN_{suffix} must be between {low} and {high}, got {value}")
        kwargs[name] = value
    return Config(**kwargs)  # type: ignore[arg-type]
