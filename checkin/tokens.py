"""Bearer tokens for devices and people: made here, stored only as hashes."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from checkin.keys import EVENT_ID_RE


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_id(prefix: str) -> str:
    return prefix + base64.b32encode(secrets.token_bytes(5)).decode("ascii")


def new_secret() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class DeviceToken:
    """A device token names its event and device so the gateway can route it without a lookup."""

    event_id: str
    device_id: str
    text: str

    @property
    def hash(self) -> str:
        return token_hash(self.text)


def make_device_token(event_id: str, device_id: str) -> DeviceToken:
    return DeviceToken(event_id, device_id, f"{event_id}.{device_id}.{new_secret()}")


def parse_device_token(text: str) -> DeviceToken | None:
    parts = text.split(".")
    if len(parts) != 3 or not EVENT_ID_RE.match(parts[0]) or not parts[1] or not parts[2]:
        return None
    if len(text) > 200 or not parts[1].isalnum():
        return None
    return DeviceToken(parts[0], parts[1], text)


def bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()
