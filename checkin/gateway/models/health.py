"""GET /healthz, /readyz and /api/v1/time."""

from __future__ import annotations

from typing import Any, Literal

import msgspec


class Health(msgspec.Struct, forbid_unknown_fields=True):
    status: Literal["ok"]


class Ready(msgspec.Struct, forbid_unknown_fields=True):
    """200 when both answer, 503 (same body) when either does not; `embedded` under `checkin up` only."""

    status: Literal["ready", "not_ready"]
    postgres: str
    redis: str
    embedded: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET


class Time(msgspec.Struct, forbid_unknown_fields=True):
    server_time: int  # ms since the epoch
