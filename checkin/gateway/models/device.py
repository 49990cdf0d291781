"""A kiosk's own routes: enrolment, its device record, its gate copy and its PIN."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import Meta

from checkin.gateway.models.common import whole
from checkin.vocabulary import GateMode

CODE_PATTERN = whole("[A-Za-z0-9_-]{8,64}")
Pin = Annotated[str, Meta(pattern=whole("[0-9]{4,8}"), description="4 to 8 digits")]


class EnrollBody(msgspec.Struct):
    code: Annotated[str, Meta(pattern=CODE_PATTERN, description="the code from the enrolment link")]
    pin: Pin | None = None


class Enrolled(msgspec.Struct, forbid_unknown_fields=True):
    """The device token is shown only here; only its hash is kept."""

    device_token: str
    device_id: str
    event_id: str
    event_name: str
    gate_id: str
    gate_name: str
    public_keys: dict[str, str]  # key id -> base64 raw Ed25519 public key
    pin_set: bool
    server_time: int


class Device(msgspec.Struct, forbid_unknown_fields=True):
    """The live fields are absent while Redis is unreachable."""

    device_id: str
    event_id: str
    event_name: str
    gate_id: str
    gate_name: str
    server_time: int
    durable_seq: int | msgspec.UnsetType = msgspec.UNSET
    on_site: int | msgspec.UnsetType = msgspec.UNSET
    gate_mode: GateMode | None | msgspec.UnsetType = msgspec.UNSET


class GateCopyQuery(msgspec.Struct):
    since: str | msgspec.UnsetType = msgspec.UNSET  # the cursor a previous copy gave; absent for a whole copy


class WholeParts(msgspec.Struct, forbid_unknown_fields=True):
    cards: bool
    presence: bool


class GateCopy(msgspec.Struct, forbid_unknown_fields=True):
    """docs/api.md, "Enrolling a kiosk": what an offline kiosk decides by."""

    event_id: str
    gate_id: str | None
    event_name: str
    cursor: str
    whole: WholeParts
    policy: dict[str, Any]
    gates: dict[str, dict[str, Any]]
    cards: dict[str, dict[str, Any] | None]
    revoked: dict[str, bool]
    presence: dict[str, dict[str, Any] | None]
    public_keys: dict[str, str]  # the signing keys today (whole each time): key id -> base64 raw public key
    server_time: int


class PinCheckBody(msgspec.Struct):
    pin: str | None = None


class PinChecked(msgspec.Struct, forbid_unknown_fields=True):
    ok: bool
    pin_set: bool


class DevicePoll(msgspec.Struct):
    """What a kiosk says of itself on its poll, for the console's device list (all optional: older kiosks send none)."""

    app: Annotated[str, Meta(max_length=32, pattern=r"^[A-Za-z0-9._\-]*$")] | None = None  # its page version
    unsent: Annotated[int, Meta(ge=0, le=10_000_000)] | None = None  # journal entries not yet answered
    held: Annotated[int, Meta(ge=0, le=10_000_000)] | None = None  # answered, waiting to be known stored
