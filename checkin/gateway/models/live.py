"""The coordinators' headcount snapshot and where the dashboard finds the live server."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta


class HeadcountQuery(msgspec.Struct):
    zone: Annotated[str, Meta(max_length=64)] | msgspec.UnsetType = msgspec.UNSET
    team: Annotated[str, Meta(max_length=200)] | msgspec.UnsetType = msgspec.UNSET


class LiveConfig(msgspec.Struct, forbid_unknown_fields=True):
    ws_url: str
    ws_path: str


class Headcount(msgspec.Struct, forbid_unknown_fields=True):
    """The snapshot the live server sends first on its websocket (docs/live.md)."""

    type: Literal["snapshot"]
    event_id: str
    event_name: str
    tz: str
    stream_id: str
    scope: dict[str, Any]
    server_ms: int
    view: dict[str, Any]
    live: LiveConfig
