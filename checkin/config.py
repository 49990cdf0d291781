"""All configuration, read from CHECKIN_* environment variables in one place and validated at start."""

from __future__ import annotations

import ipaddress
import os
import re
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
    recorder_metrics_port: int = 9108  # the recorder's /metrics; 0 turns it off
    stream_max_backlog: int = 2_000_000
    max_body_bytes: int = 1_048_576
    # An admin's roster or assignment file (base64 in JSON): 16 MiB carries every volunteer of the city (78,633,
    # UTF-8: about 14.8 MB). Read only after the admin is known; every other body stays under max_body_bytes.
    max_upload_bytes: int = 16 * 1_048_576
    device_scans_per_s: int = 10  # per device token and gateway process; 0 turns the limit off
    header_timeout_s: int = 15  # a request's headers (and an idle keep-alive connection) within this
    body_timeout_s: int = 30  # a request's body within this, once its headers are in
    # An admin's upload (after the admin is known): the city's 14.8 MB roster takes 60 s at 2 Mbit/s up.
    upload_timeout_s: int = 600
    log_level: str = "INFO"
    log_format: str = "text"  # or "json": one JSON object a line, with the request id
    tls_cert: Path | None = None  # PEM certificate chain for the gateway; with tls_key
    tls_key: Path | None = None  # PEM private key; neither set + non-loopback host: a local CA is made
    public_url: str | None = None  # how volunteers and verifiers reach the gateway (certificate QR codes)
    allowed_hosts: frozenset[str] = frozenset()  # Host header values links may carry when public_url is unset
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()  # their X-Forwarded-For is read
    session_idle_s: int = 3600  # a console session unused this long ends
    session_max_s: int = 43_200  # and any session ends this long after its sign-in (a working day)
    signin_backoff_ms: int = 1000  # the first wait after repeated wrong passwords, doubling; 0 turns waits off
    signin_backoff_max_ms: int = 300_000  # the longest wait between attempts
    password_link_ttl_h: int = 72  # a one-time set-password link works this long
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
    "MAX_UPLOAD_BYTES": ("max_upload_bytes", 1024, 256 * 1_048_576),
    "DEVICE_SCANS_PER_S": ("device_scans_per_s", 0, 1_000_000),
    "HEADER_TIMEOUT_S": ("header_timeout_s", 1, 3600),
    "BODY_TIMEOUT_S": ("body_timeout_s", 1, 3600),
    "UPLOAD_TIMEOUT_S": ("upload_timeout_s", 1, 7200),
    "SESSION_IDLE_S": ("session_idle_s", 1, 7 * 86_400),
    "SESSION_MAX_S": ("session_max_s", 1, 30 * 86_400),
    "SIGNIN_BACKOFF_MS": ("signin_backoff_ms", 0, 3_600_000),
    "SIGNIN_BACKOFF_MAX_MS": ("signin_backoff_max_ms", 0, 86_400_000),
    "PASSWORD_LINK_TTL_H": ("password_link_ttl_h", 1, 24 * 30),
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


_HOST_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*")


def _check_hosts(raw: str) -> frozenset[str]:
    """Host names or IP addresses, comma separated, without ports."""
    hosts = set()
    for item in (part.strip().lower() for part in raw.split(",")):
        if not item:
            continue
        try:
            hosts.add(str(ipaddress.ip_address(item.strip("[]"))))
            continue
        except ValueError:
            pass
        if not _HOST_RE.fullmatch(item) or len(item) > 253:
            raise ConfigError(f"CHECKIN_ALLOWED_HOSTS takes host names or IP addresses without ports, got {item!r}")
        hosts.add(item)
    return frozenset(hosts)


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
    if hosts := env.get("CHECKIN_ALLOWED_HOSTS"):
        kwargs["allowed_hosts"] = _check_hosts(hosts)
    if proxies := env.get("CHECKIN_TRUSTED_PROXIES"):
        try:
            kwargs["trusted_proxies"] = tuple(ipaddress.ip_network(p.strip()) for p in proxies.split(",") if p.strip())
        except ValueError:
            raise ConfigError(f"CHECKIN_TRUSTED_PROXIES takes IP addresses or networks (10.0.0.0/8), got {proxies!r}") from None
    if level := env.get("CHECKIN_LOG_LEVEL"):
        if level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError(f"CHECKIN_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        kwargs["log_level"] = level.upper()
    if log_format := env.get("CHECKIN_LOG_FORMAT"):
        if log_format.lower() not in ("text", "json"):
            raise ConfigError(f"CHECKIN_LOG_FORMAT must be text or json, got {log_format!r}")
        kwargs["log_format"] = log_format.lower()
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
