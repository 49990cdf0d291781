"""National ID numbers (身分證字號): format check, AES-GCM encryption at rest, and the on-screen mask.

The key is a 256-bit file under the data dir, created owner-only on first use, and only the commands that
import a roster or run the admin export read it: the gateway never holds it, so no API can decrypt.
A ciphertext is bound to its volunteer id (associated data), so copying it onto another row fails to open.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = b"\x01"  # leading byte of every ciphertext, so a later key or scheme can be told apart
NONCE_BYTES = 12
KEY_BYTES = 32

_ID_RE = re.compile(r"^[A-Z][0-9]{9}\Z")
# The letter's two-digit code in the official checksum (I, O, W..Z are out of alphabetical order).
_LETTER_CODES = dict(zip("ABCDEFGHJKLMNPQRSTUVXYWZIO", range(10, 36), strict=True))
_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 1, 1)


class DecryptError(ValueError):
    """A ciphertext that does not open with this key and volunteer: tampered, moved or another key's."""


def check_national_id(text: str) -> str:
    """The ID in upper case if it is a valid Taiwanese national (or new-format resident) ID; ValueError if not."""
    value = text.strip().upper()
    if not _ID_RE.match(value):
        raise ValueError(f"not a national ID: {mask(value)!r} (one letter and 9 digits)")
    if value[1] not in "1289":
        raise ValueError(f"not a national ID: {mask(value)!r} (the second character must be 1, 2, 8 or 9)")
    code = _LETTER_CODES[value[0]]
    total = code // 10 + (code % 10) * 9 + sum(int(d) * w for d, w in zip(value[1:], _WEIGHTS, strict=True))
    if total % 10:
        raise ValueError(f"national ID {mask(value)!r} fails its check digit: a typo?")
    return value


def mask(national_id: str) -> str:
    """What a screen may show: the first three and last three characters, 'A12****789'."""
    if len(national_id) < 7:
        return "*" * len(national_id)
    return national_id[:3] + "*" * (len(national_id) - 6) + national_id[-3:]


def load_or_create_key(path: Path) -> bytes:
    """Read the PII key; create it with owner-only permissions on first use."""
    if path.exists():
        key = path.read_bytes()
        if len(key) != KEY_BYTES:
            raise ValueError(f"{path} is not a {KEY_BYTES}-byte PII key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
    return key


def encrypt(key: bytes, plaintext: str, context: str = "") -> bytes:
    """VERSION + random nonce + AES-GCM ciphertext and tag; context (the volunteer id) is bound, not stored."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext.encode(), VERSION + context.encode())
    return VERSION + nonce + sealed


def decrypt(key: bytes, blob: bytes, context: str = "") -> str:
    """The plaintext of encrypt(key, ..., context); DecryptError if anything was changed."""
    if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
        raise DecryptError("not a PII ciphertext of a known version")
    nonce, sealed = blob[1:1 + NONCE_BYTES], blob[1 + NONCE_BYTES:]
    try:
        return AESGCM(key).decrypt(nonce, sealed, VERSION + context.encode()).decode()
    except InvalidTag:
        raise DecryptError("the ciphertext does not open: tampered, moved to another volunteer, or another key") from None
