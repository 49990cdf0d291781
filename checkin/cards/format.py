"""Service card format: a short signed text that carries no personal data.

    VC1.<key_id>.<card_id>.<signature>

Every part is upper-case base32 (no padding), so the whole text stays inside the QR alphanumeric
character set and a card fits a version-6 code at error correction M. The signature is Ed25519
over ``VC1.<key_id>.<card_id>``. Parsing never raises: it returns a CardCheck with a reason.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

VERSION = "VC1"
MAX_CARD_TEXT = 200
_CARD_RE = re.compile(r"^VC1\.([A-Z2-7]{4,12})\.([A-Z2-7]{6,16})\.([A-Z2-7]{103})\Z")


def _b32(data: bytes) -> str:
    return base64.b32encode(data).decode("ascii").rstrip("=")


def _unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


@dataclass(frozen=True)
class CardCheck:
    """The outcome of reading a card text: card_id set when valid, reason set when not."""

    card_id: str | None
    key_id: str | None
    reason: str | None  # None, "invalid_card" or "unknown_key"
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.reason is None


def key_id_for(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "K" + _b32(hashlib.sha256(raw).digest())[:5]


def public_key_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_keys_text(keys: dict[str, Ed25519PublicKey]) -> dict[str, str]:
    """Key id -> base64 of the raw public key: what a kiosk verifies cards with (gate/cards.js)."""
    return {kid: base64.b64encode(public_key_bytes(key)).decode("ascii") for kid, key in keys.items()}


def public_key_from_bytes(raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(raw)


def new_card_id() -> str:
    return _b32(secrets.token_bytes(5))  # 8 characters, 40 random bits


def sign_card(private_key: Ed25519PrivateKey, card_id: str) -> str:
    key_id = key_id_for(private_key.public_key())
    body = f"{VERSION}.{key_id}.{card_id}"
    return f"{body}.{_b32(private_key.sign(body.encode('ascii')))}"


def parse_card(text: object, public_keys: dict[str, Ed25519PublicKey]) -> CardCheck:
    """Check a scanned text against the valid public keys; never raises."""
    if not isinstance(text, str):
        return CardCheck(None, None, "invalid_card", "card text must be a string")
    if len(text) > MAX_CARD_TEXT:
        return CardCheck(None, None, "invalid_card", "card text is too long")
    text = text.strip()
    if not text.startswith(VERSION + "."):
        return CardCheck(None, None, "invalid_card", "not a service card (wrong prefix or version)")
    match = _CARD_RE.match(text)
    if not match:
        return CardCheck(None, None, "invalid_card", "malformed card text")
    key_id, card_id, signature = match.groups()
    raw_signature = _unb32(signature)
    if _b32(raw_signature) != signature:  # the last character's spare bits must be zero: one text per card
        return CardCheck(card_id, key_id, "invalid_card", "signature is not in canonical form")
    key = public_keys.get(key_id)
    if key is None:
        return CardCheck(card_id, key_id, "unknown_key", f"card signed with unknown key {key_id}")
    try:
        key.verify(raw_signature, text.rsplit(".", 1)[0].encode("ascii"))
    except (InvalidSignature, ValueError):
        return CardCheck(card_id, key_id, "invalid_card", "signature does not match")
    return CardCheck(card_id, key_id, None)


class CardVerifier:
    """parse_card with a bounded memo: each distinct text is verified once (Ed25519 costs ~155 µs)."""

    def __init__(self, public_keys: dict[str, Ed25519PublicKey], capacity: int = 200_000) -> None:
        self.public_keys = public_keys
        self.capacity = capacity
        self._memo: dict[str, CardCheck] = {}

    def check(self, text: object) -> CardCheck:
        if not isinstance(text, str):
            return parse_card(text, self.public_keys)
        hit = self._memo.get(text)
        if hit is not None:
            return hit
        result = parse_card(text, self.public_keys)
        if len(self._memo) >= self.capacity:
            self._memo.clear()  # crude but bounded; a full re-verify costs seconds at most
        self._memo[text] = result
        return result

    def trust(self, texts: list[str]) -> int:
        """Remember card texts this system issued (read from Postgres) as valid without re-verifying
        their signatures: a gate's first minutes of a shift change would otherwise spend a core on
        Ed25519. A text whose key is not (or no longer) valid is left to the full check."""
        trusted = 0
        for text in texts[: self.capacity]:
            match = _CARD_RE.match(text)
            if match and match.group(1) in self.public_keys and _b32(_unb32(match.group(3))) == match.group(3):
                self._memo[text] = CardCheck(match.group(2), match.group(1), None)
                trusted += 1
        return trusted


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Read the signing key; create it with owner-only permissions on first use."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    return key
