"""Service certificates (服務證明): what one says, its fingerprint, and whether it still holds.

A certificate is a snapshot of a volunteer's record-book hours at one event, kept on the server as
canonical JSON. Its QR code links to the server's verification page, which shows what the server
holds; so a school or an employer trusts the server, not the paper. A certificate whose hours were
corrected since, that a newer one replaced, or that an admin revoked, says so there. Pure: the
storage is checkin/certificates/store.py, the PDF checkin/certificates/pdf.py.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

import orjson

from checkin.hours.exports import Member, credited_days
from checkin.hours.model import VolunteerHours

FORMAT = 1
CERT_ID_RE = re.compile(r"^[A-Za-z0-9_-]{20}\Z")  # secrets.token_urlsafe(15): 120 random bits
VERIFY_PATH = "/v/"


@dataclass(frozen=True)
class CertDay:
    day: str  # ISO date of the service day
    minutes: int  # as the record book credits it


@dataclass(frozen=True)
class CertificateContent:
    event_id: str
    event_name: str
    volunteer_id: str
    name: str
    record_book_no: str
    team: str
    unit: str
    days: tuple[CertDay, ...]

    @property
    def total_minutes(self) -> int:
        return sum(d.minutes for d in self.days)

    def canonical(self) -> bytes:
        """The exact bytes stored and fingerprinted: sorted keys, no spaces, UTF-8."""
        data: dict[str, Any] = {
            "v": FORMAT, "event_id": self.event_id, "event_name": self.event_name,
            "volunteer_id": self.volunteer_id, "name": self.name, "record_book_no": self.record_book_no,
            "team": self.team, "unit": self.unit, "days": [[d.day, d.minutes] for d in self.days],
        }
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)

    @classmethod
    def from_canonical(cls, text: bytes | str) -> CertificateContent:
        data = orjson.loads(text)
        if data.get("v") != FORMAT:
            raise ValueError(f"certificate format {data.get('v')!r} is not {FORMAT}")
        return cls(data["event_id"], data["event_name"], data["volunteer_id"], data["name"],
                   data["record_book_no"], data["team"], data["unit"],
                   tuple(CertDay(str(day), int(minutes)) for day, minutes in data["days"]))


def content_for(hours: VolunteerHours, member: Member, event_id: str, event_name: str) -> CertificateContent:
    """What a certificate issued now would say: the days the record book credits (after its rules)."""
    days = tuple(CertDay(d.day.isoformat(), d.minutes) for d in credited_days(hours, member))
    return CertificateContent(event_id, event_name, hours.volunteer_id, member.name, member.record_book_no or "",
                              member.team, member.unit, days)


def new_cert_id() -> str:
    return secrets.token_urlsafe(15)


def fingerprint(cert_id: str, canonical: bytes) -> str:
    """sha256 over the id and the content: two certificates with the same hours still differ."""
    return hashlib.sha256(cert_id.encode() + b"\n" + canonical).hexdigest()


def check_code(fingerprint_hex: str) -> str:
    """The fingerprint's first 48 bits as printed on the paper and shown on the page, to compare by eye."""
    head = fingerprint_hex[:12].upper()
    return f"{head[:4]}-{head[4:8]}-{head[8:]}"


def verify_url(base_url: str, cert_id: str) -> str:
    return f"{base_url.rstrip('/')}{VERIFY_PATH}{cert_id}"


@dataclass(frozen=True)
class Standing:
    status: str  # valid | superseded | revoked
    reason: str | None  # None when valid; reissued | hours_changed | details_changed | revoked


def standing(*, revoked: bool, superseded_by: str | None, issued: CertificateContent,
             current: CertificateContent | None) -> Standing:
    """Whether a certificate still holds. current: what one issued now would say (None: no credited hours now)."""
    if revoked:
        return Standing("revoked", "revoked")
    if superseded_by is not None:
        return Standing("superseded", "reissued")
    if current is None or current.days != issued.days:
        return Standing("superseded", "hours_changed")
    if current != issued:  # the same hours, but a name, team or book number changed since
        return Standing("superseded", "details_changed")
    return Standing("valid", None)
