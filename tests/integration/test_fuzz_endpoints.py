"""Ten thousand generated requests across every JSON endpoint, with the right tokens, so the bodies reach
the handlers' checks: not one answer of 500 or more, and every refusal a JSON body with "error".

Bodies start from a valid one for the endpoint; fields are dropped, swapped for hostile values (NUL,
direction controls, formulas, years 1 and 9999, huge numbers, lists where text belongs) or joined by
strangers. The generator is seeded, so a failure names the request and comes back on the next run.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import orjson
import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient

from checkin.access.operations import add_team_lead
from checkin.keys import Keys
from loadtest.event_factory import Scenario
from tests.integration.test_office_api import Office, make_office

REQUESTS = 10_000
CONCURRENCY = 8
SEED = 17

HOSTILE_TEXT = [
    "", " ", "\x00", "a\x00b", "\u202e陳小明", "\u2066x\u2069", "=HYPERLINK(\"http://x/\",\"y\")", "+1", "-1", "@A1",
    "\t", "\r\n", "' OR 1=1 --", "%", "_", "\\", "x" * 70, "x" * 1001, "🙂", "陳小明", "null", "NaN", "1e309",
    "0001-01-01T00:00", "9999-12-31T23:59:59", "0001-01-01", "9999-12-31", "2024-02-30", "24/2/2024",
    "2024-02-24T09:00", "2024-02-24T25:00", "2024-02-24T09:00+14:00", "2024-02-24", "evtd\n", "in", "out", "auto",
    "entry", "exit", "add", "change", "void", "00000000-0000-0000-0000-000000000000", "not-a-uuid",
]
NUMBERS = [0, -1, 1, 2**31, 2**53 + 1, 2**63, 2**64 + 5, 2**100, -(2**70), 1.5, -0.0, 1e308, 1e-308]


@dataclass
class Fuzz:
    rng: random.Random
    ids: list[str]
    strings: list[str]

    def junk(self, depth: int = 0) -> Any:
        roll = self.rng.random()
        if roll < 0.35:
            return self.rng.choice(self.strings)
        if roll < 0.45:
            return "".join(chr(self.rng.choice([self.rng.randrange(0x20, 0x7f), self.rng.randrange(0, 0x20),
                                                self.rng.randrange(0x80, 0x3000)]))
                           for _ in range(self.rng.randrange(0, 40)))
        if roll < 0.6:
            return self.rng.choice(NUMBERS)
        if roll < 0.7:
            return self.rng.choice([None, True, False])
        if roll < 0.85 or depth > 2:
            return [self.junk(depth + 1) for _ in range(self.rng.randrange(0, 4))]
        return {self.rng.choice(["a", "", "\x00", "scan_id", "day"]): self.junk(depth + 1)
                for _ in range(self.rng.randrange(0, 3))}

    def mutate(self, body: dict[str, Any]) -> Any:
        roll = self.rng.random()
        if roll < 0.04:
            return self.junk()
        if roll < 0.3:
            return body  # a valid body now and then: the success paths are fuzzed too
        out = {}
        for key, value in body.items():
            r = self.rng.random()
            if r < 0.15:
                continue
            out[key] = self.junk() if r < 0.5 else value
        if self.rng.random() < 0.1:
            out[self.rng.choice(["extra", "\x00", "scan_id"])] = self.junk()
        return out


# A roster CSV as the console sends it (base64 in JSON): UTF-8 and Big5, one with a bad line.
ROSTER_FILES = [base64.b64encode(text.encode(enc)).decode() for text, enc in (
    ("志工編號,姓名,志工隊,運用單位\nFZ0001,王小明,甲隊,社會局\n", "utf-8"),
    ("志工編號,姓名,志工隊,運用單位,出生年\nFZ0002,陳大文,乙隊,社會局,一九九零\n", "cp950"))]


def pairs_file(volunteer_id: str, shift_id: str) -> str:
    return base64.b64encode(f"志工編號,班別編號\n{volunteer_id},{shift_id}\n".encode()).decode()


def _body(value: Any) -> bytes:
    """The stdlib writes integers past 64 bits and lone surrogates, which orjson refuses to."""
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")


@pytest.fixture
async def office(pg_pool: asyncpg.Pool, redis_client: aioredis.Redis, keys: Keys, scenario: Scenario) -> Office:
    return await make_office(pg_pool, redis_client, keys, scenario)


async def test_ten_thousand_generated_requests_get_no_5xx_and_only_json_errors(
        gateway: TestClient, office: Office, pg_pool: asyncpg.Pool) -> None:
    o = office
    ev = o.ev.event_id
    async with pg_pool.acquire() as conn:
        _, lead = await add_team_lead(conn, "隊長", ev, o.team_id)
    device, coordinator, admin = o.ev.device_token, o.ev.coordinator_token, o.admin["Authorization"].split()[1]
    vids = [vid for vid, _ in o.ev.cards]
    gates = list(o.ev.gates)
    cards = [card for _, card in o.ev.cards]
    fuzz = Fuzz(random.Random(SEED), vids, HOSTILE_TEXT + vids[:3] + gates + [o.team_id, ev] + cards[:2])
    rng = fuzz.rng
    now = datetime.now(UTC)

    def scan() -> dict[str, Any]:
        at = now - timedelta(seconds=rng.randrange(0, 3600))
        return {"scan_id": str(uuid.uuid4()), "card": rng.choice(cards), "gate_id": rng.choice(gates),
                "scanned_at": at.isoformat(), "seq": rng.randrange(1, 10**6), "mode": rng.choice(["entry", "exit"])}

    def day() -> str:
        return rng.choice(["2024-02-24", "2024-02-23", "2024-03-01"])

    # (method, path, token, valid body) per endpoint; a token of the role the endpoint is for
    endpoints: dict[str, Callable[[], tuple[str, str, str, Any]]] = {
        "scan": lambda: ("POST", "/api/v1/scans", device, scan()),
        "batch": lambda: ("POST", "/api/v1/scans/batch", device,
                          {"scans": [fuzz.mutate(scan()) for _ in range(rng.randrange(1, 4))]}),
        "manual": lambda: ("POST", f"/api/v1/events/{ev}/manual-scans", coordinator,
                           {"volunteer_id": rng.choice(vids), "gate_id": rng.choice(gates),
                            "action": rng.choice(["in", "out", "auto"])}),
        "group": lambda: ("POST", f"/api/v1/events/{ev}/group-checkin", rng.choice([coordinator, lead]),
                          {"gate_id": rng.choice(gates), "volunteer_ids": rng.sample(vids, rng.randrange(1, 4))}),
        "corrections": lambda: ("POST", f"/api/v1/events/{ev}/corrections", rng.choice([coordinator, admin]),
                                {"volunteer_id": rng.choice(o.ids), "action": "add",
                                 "start": f"{day()}T0{rng.randrange(6, 9)}:00",
                                 "end": f"{day()}T1{rng.randrange(0, 9)}:30", "reason": "紙本簽到"}),
        "approvals": lambda: ("POST", f"/api/v1/events/{ev}/approvals", rng.choice([coordinator, lead]),
                              {"team_id": o.team_id, "day": day()}),
        "acceptances": lambda: ("POST", f"/api/v1/events/{ev}/acceptances", admin,
                                {"volunteer_id": rng.choice(o.ids), "day": day(), "reason": "證明後補"}),
        "certificates": lambda: ("POST", f"/api/v1/events/{ev}/volunteers/{rng.choice(o.ids)}/certificates",
                                 admin, {}),
        "enroll": lambda: ("POST", "/api/v1/enroll", "", {"code": "A" * rng.randrange(6, 70), "pin": "2468"}),
        "annul": lambda: ("POST", f"/api/v1/scans/{uuid.uuid4()}/annul", rng.choice([device, coordinator]),
                          {"reason": "掃錯"}),
        "pin": lambda: ("POST", "/api/v1/device/pin-check", device, {"pin": "2468"}),
        "search": lambda: ("GET", f"/api/v1/events/{ev}/roster/search", rng.choice([coordinator, lead]),
                           {"q": rng.choice(["志工", "345678", o.ids[0]])}),
        # The console's event setup (checked as plans are): a new event, the event's fields and policy, a row.
        "console-create": lambda: ("POST", "/api/v1/events", admin,
                                   {"id": f"fz-{rng.randrange(10**6)}", "name": "燈會", "starts_on": day(),
                                    "ends_on": "2024-03-01", "tz": "Asia/Taipei"}),
        "console-event": lambda: ("PUT", f"/api/v1/events/{ev}", admin,
                                  {"name": "燈會", "policy": {"debounce_s": 60, "hours": {"day_starts_hour": 4}}}),
        "console-zone": lambda: ("PUT", f"/api/v1/events/{ev}/zones/{ev}-fz", admin, {"name": "區"}),
        "console-gate": lambda: ("PUT", f"/api/v1/events/{ev}/gates/{ev}-fz{rng.randrange(3)}", admin,
                                 {"zone_id": "main", "name": "門", "mode": rng.choice(["entry", "exit", "auto"])}),
        "console-shift": lambda: ("PUT", f"/api/v1/events/{ev}/shifts/{ev}-fz{rng.randrange(3)}", admin,
                                  {"zone_id": "main", "name": "班", "starts_at": f"{day()}T09:00",
                                   "ends_at": f"{day()}T12:00", "required": rng.randrange(0, 9)}),
        "console-plan": lambda: ("PUT", f"/api/v1/events/{ev}/plan", admin, {"text": orjson.dumps(
            {"event": {"id": ev, "name": "燈會", "starts_on": "2024-02-24", "ends_on": "2024-02-24"},
             "zones": [{"id": "main", "name": "主燈區"}]}).decode()}),
        # the console's setup routes (admins only)
        "roster-check": lambda: ("POST", f"/api/v1/events/{ev}/roster/check", admin, {"file": rng.choice(ROSTER_FILES)}),
        "assign-team": lambda: ("POST", f"/api/v1/events/{ev}/assignments/team", admin,
                                {"team_id": o.team_id, "shift_id": f"{ev}-s1"}),
        "assign-csv": lambda: ("POST", f"/api/v1/events/{ev}/assignments/csv", admin,
                               {"file": pairs_file(rng.choice(vids), f"{ev}-s1"), "dry_run": rng.random() < 0.5}),
        "card": lambda: ("POST", f"/api/v1/events/{ev}/volunteers/{rng.choice(vids)}/"
                         f"{rng.choice(['card/reissue', 'card/revoke', 'card-link'])}", admin, {"reason": "遺失"}),
        "enrollment-link": lambda: ("POST", f"/api/v1/events/{ev}/enrollment-links", admin,
                                    {"gate_id": rng.choice(gates), "label": "平板", "pin": "2468"}),
        "device": lambda: ("POST", f"/api/v1/events/{ev}/devices/{device.split('.')[1]}/"
                           f"{rng.choice(['rename', 'move'])}", admin,
                           {"label": "平板", "gate_id": rng.choice(gates), "reason": "改道"}),
    }
    seen: Counter[str] = Counter()
    failures: list[tuple[Any, ...]] = []

    async def one(name: str) -> None:
        method, path, token, valid = endpoints[name]()
        body = fuzz.mutate(valid)
        if rng.random() < 0.1:  # a stranger's token, a garbage one, one naming an unknown event, or none
            token = rng.choice(["", "x", f"{ev}.Dnope.secret", "ev-nope.Dx.secret",
                                o.stranger["Authorization"].split()[1], device])
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if method == "GET":
            q = body.get("q") if isinstance(body, dict) else body
            resp = await gateway.get(path, params={"q": q if isinstance(q, str) else json.dumps(q)}, headers=headers)
        else:
            data = _body(body) if rng.random() > 0.03 else rng.randbytes(rng.randrange(0, 50))
            resp = await gateway.request(method, path, data=data,
                                         headers={**headers, "Content-Type": "application/json"})
        raw = await resp.read()
        seen[f"{name} {resp.status}"] += 1
        if resp.status >= 500:
            failures.append((name, method, path, body, resp.status, raw[:300]))
        elif resp.status >= 400:
            try:
                parsed = orjson.loads(raw)
            except orjson.JSONDecodeError:
                parsed = None
            if resp.content_type != "application/json" or not isinstance(parsed, dict) or "error" not in parsed:
                failures.append((name, method, path, body, resp.status, raw[:300]))

    names = list(endpoints)
    for start in range(0, REQUESTS, CONCURRENCY):
        await asyncio.gather(*(one(names[(start + i) % len(names)]) for i in range(CONCURRENCY)))
    assert sum(seen.values()) >= REQUESTS
    kinds = Counter((f[0], f[4]) for f in failures)
    assert not failures, f"{len(failures)} bad answers {dict(kinds)}, the first: {failures[:3]}"
    # every endpoint was reached past its token check at least once, so the bodies were judged
    for name in names:
        assert any(n.split()[0] == name and not n.endswith((" 401", " 403")) for n in seen), (name, seen)
