"""The benchmark's dashboards read each live message's head only (loadtest/ws_watch.py): held here to what the
live hub really sends, so a change in the message's shape fails this test instead of silently timing nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from checkin.consumers.live_hub import EventHub
from checkin.hours.model import HoursPolicy
from checkin.keys import Keys
from checkin.live.snapshot import Roster, Snapshot
from checkin.live.view import LiveState
from loadtest.ws_watch import message_head


def _hub() -> EventHub:
    hours = HoursPolicy(timezone="Asia/Taipei")
    roster = Roster("ev", "活動", hours.timezone, 3_600_000, {"main": "主區"}, {"g1": ("main", "一號門")}, [],
                    hours, 0)
    redis: Any = None  # the hub's tick and subscriptions touch neither server
    hub = EventHub(redis, redis, Keys("t").event("ev"))
    hub.state = LiveState(roster, Snapshot({}, {}, "0-0", 0))
    return hub


def test_the_head_says_what_the_whole_message_says() -> None:
    hub = _hub()
    sub = hub.subscribe()
    at = int(datetime(2026, 2, 6, 1, 0, tzinfo=UTC).timestamp() * 1000)
    hub.live.apply("1-0", {b"verdict": b"checked_in", b"gate": b"g1", b"at": str(at).encode(), b"vol": b"V1",
                           b"rx": str(at + 7).encode(), b"zone": b"main", b"team": b"T"})
    hub.tick(at + 200)
    hub.tick(at + 200 + 5_000)  # nothing new: a beat
    messages = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    kinds = []
    for raw in messages:
        whole = orjson.loads(raw)
        assert message_head(raw) == (whole["type"], whole.get("last_received_ms", 0))
        assert message_head(raw.decode()) == message_head(raw)  # websockets hands text frames over as str
        kinds.append(whole["type"])
    assert kinds == ["snapshot", "delta", "beat"]
    assert message_head(messages[1]) == ("delta", at + 7)
