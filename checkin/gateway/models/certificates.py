"""Service certificates: what the office issues, lists and revokes, and the public check of one."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta


class CertificateDay(msgspec.Struct, forbid_unknown_fields=True):
    day: str
    hours: float


class Certificate(msgspec.Struct, forbid_unknown_fields=True):
    """`new` only where one may have been issued (false: the certificate that still holds)."""

    cert_id: str
    event_id: str
    volunteer_id: str
    name: str
    hours: float
    days: list[CertificateDay]
    code: str
    issued_at: str
    issued_by: str
    superseded_by: str | None
    revoked_at: str | None
    verify_url: str
    pdf_url: str
    new: bool | msgspec.UnsetType = msgspec.UNSET


class Certificates(msgspec.Struct, forbid_unknown_fields=True):
    items: list[Certificate]


class CertificatesQuery(msgspec.Struct):
    volunteer_id: str | msgspec.UnsetType = msgspec.UNSET


class RevokeBody(msgspec.Struct):
    reason: Annotated[str, Meta(max_length=1000)]


class CertifiedService(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    record_book_no: str | None
    event: str
    team: str | None
    unit: str | None
    hours: float
    days: list[CertificateDay]


class CertificateCheck(msgspec.Struct, forbid_unknown_fields=True):
    """What the paper says and whether it still holds: public, for whoever holds the number."""

    cert_id: str
    status: Literal["valid", "superseded", "revoked"]
    reason: Literal["reissued", "hours_changed", "details_changed", "revoked"] | None
    valid: bool
    code: str
    issued_on: str
    superseded_on: str | None
    revoked_on: str | None
    certificate: CertifiedService
