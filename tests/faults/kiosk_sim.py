"""A gate kiosk simulated in Python, keeping the browser kiosk's journal protocol (docs/kiosk.md).

Every scan gets a scan_id and the device's next seq and enters the journal before it is sent. A
live scan goes to POST /api/v1/scans when nothing older waits; otherwise the journal is replayed in
order through POST /api/v1/scans/batch. An entry leaves the journal only when durable_seq (from an
answer or GET /api/v1/device) reaches its seq. Answered entries that stay short of durable_seq are
sent again, in order: at once after a 503 'rebuilding' (Redis lost the event), otherwise after
`resend_after_s`. Re-sending is an idempotent replay while Redis still remembers the answer.
(The browser kiosk's kiosk/js/sync.js does not re-send answered entries yet; `resend=False` behaves
like it, and tests/faults/test_journal_resend.py shows what that strands.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

BATCH = 200


class Offline(Exception):
    """The kiosk's network is cut: nothing leaves the device."""


@dataclass
class Entry:
    scan_id: str
    seq: int
    card: str
    gate_id: str
    scanned_at: str
    made_at: float  # monotonic time the scan was made
    answered_at: float | None = None
    verdict: str | None = None
    failed_attempts: int = 0

    def body(self) -> dict[str, object]:
        return {"scan_id": self.scan_id, "card": self.card, "gate_id": self.gate_id,
                "scanned_at": self.scanned_at, "seq": self.seq}


@dataclass
class KioskLog:
    """What this device saw, for the ground truth: every scan made, and every answer received."""

    made: dict[str, Entry] = field(default_factory=dict)
    acknowledged: dict[str, str] = field(default_factory=dict)  # scan_id -> first verdict answered
    failures: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, why)
    resends: int = 0
    peak_journal: int = 0
    server_errors: list[str] = field(default_factory=list)  # answers >= 500 other than 503 with Retry-After
    unavailable: int = 0  # 503 with Retry-After: the kiosk keeps the scans and retries


class SimKiosk:
    def __init__(self, base_url: str, token: str, gate_id: str, *, resend_after_s: float = 4.0,
                 timeout_s: float = 5.0, resend: bool = True) -> None:
        self.base_url = base_url
        self.token = token
        self.device_id = token.split(".")[1]
        self.gate_id = gate_id
        self.resend_after_s = resend_after_s
        self.resend = resend  # False: answered entries are never sent again (to show why they must be)
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.journal: list[Entry] = []  # in seq order
        self.seq = 0
        self.durable_seq = 0
        self.offline = False
        self.resend_now = False
        self.log = KioskLog()
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> SimKiosk:
        self._session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"})
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    # --- the scan --------------------------------------------------------------------------

    async def scan(self, card: str, at: datetime) -> Entry:
        """Journal first, then try to send; the scan is safe in the journal whatever happens next."""
        self.seq += 1
        entry = Entry(str(uuid.uuid4()), self.seq, card, self.gate_id, at.isoformat(), time.monotonic())
        self.journal.append(entry)
        self.log.made[entry.scan_id] = entry
        self.log.peak_journal = max(self.log.peak_journal, len(self.journal))
        await self.sync()
        return entry

    async def sync(self) -> None:
        """One round: send what waits (in order), ask for durable_seq, drop what is durable."""
        async with self._lock:
            try:
                await self._send_waiting()
                if any(e.answered_at is not None for e in self.journal):
                    await self._ask_durable()
            except Offline:
                pass

    @property
    def empty(self) -> bool:
        return not self.journal

    # --- sending ---------------------------------------------------------------------------

    def _to_send(self) -> list[Entry]:
        now = time.monotonic()
        stale = any(e.answered_at is not None and now - e.answered_at > self.resend_after_s for e in self.journal)
        if self.resend and (self.resend_now or stale):
            return list(self.journal)  # every entry short of durable, answered or not, in seq order
        return [e for e in self.journal if e.answered_at is None]

    async def _send_waiting(self) -> None:
        todo = self._to_send()
        if not todo:
            return
        resending = any(e.answered_at is not None for e in todo)
        if len(todo) == 1 and not resending:
            answer = await self._request("POST", "/api/v1/scans", todo[0].body(), todo)
            if answer is not None:
                self._answered(todo[0], answer)
        else:
            for start in range(0, len(todo), BATCH):
                group = todo[start:start + BATCH]
                reply = await self._request("POST", "/api/v1/scans/batch", {"scans": [e.body() for e in group]}, group)
                if reply is None:
                    return  # kept; the next round tries again from the oldest
                for entry, result in zip(group, reply["results"], strict=True):
                    if not result or "verdict" not in result:
                        raise AssertionError(f"the gateway refused a well-formed journal entry: {result}")
                    self._answered(entry, result)
        if resending:
            self.log.resends += 1
            self.resend_now = False
        self._prune()

    def _answered(self, entry: Entry, answer: dict[str, object]) -> None:
        entry.answered_at = time.monotonic()
        entry.verdict = str(answer["verdict"])
        self.log.acknowledged.setdefault(entry.scan_id, entry.verdict)
        durable = answer.get("durable_seq")
        if isinstance(durable, int):
            self.durable_seq = max(self.durable_seq, durable)

    async def _ask_durable(self) -> None:
        info = await self._request("GET", "/api/v1/device", None, [])
        if info is not None and isinstance(info.get("durable_seq"), int):
            self.durable_seq = max(self.durable_seq, int(info["durable_seq"]))
        self._prune()

    def _prune(self) -> None:
        self.journal = [e for e in self.journal if e.seq > self.durable_seq]

    async def _request(self, method: str, path: str, body: object, entries: list[Entry]) -> dict | None:
        """The JSON answer, or None when the gateway could not take it (the entries stay journaled)."""
        if self.offline:
            self._failed(entries, "offline")
            raise Offline
        assert self._session is not None
        try:
            async with self._session.request(method, self.base_url + path, json=body, timeout=self.timeout) as resp:
                if resp.status == 503 and resp.headers.get("Retry-After"):
                    self.log.unavailable += 1
                elif resp.status >= 500:  # counted before parsing: a 500 may not be JSON
                    self.log.server_errors.append(f"{method} {path} {resp.status} {(await resp.text())[:200]}")
                data = await resp.json(content_type=None)
                if resp.status == 200:
                    return data  # type: ignore[no-any-return]
                why = f"{resp.status} {data.get('error') if isinstance(data, dict) else data}"
                if resp.status == 503 and isinstance(data, dict) and data.get("error") == "rebuilding":
                    self.resend_now = True  # Redis lost its data: what it acknowledged may be gone
                if resp.status not in (429, 503) and resp.status < 500:
                    raise AssertionError(f"{method} {path} answered {why}")
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            why = f"{type(exc).__name__}"
        self._failed(entries, why)
        return None

    def _failed(self, entries: list[Entry], why: str) -> None:
        self.log.failures.append((time.monotonic(), why))
        for e in entries:
            e.failed_attempts += 1


async def drive(kiosk: SimKiosk, scans: list[tuple[datetime, str]], started: float, span_s: float) -> None:
    """The kiosk's scans in order, evenly over `span_s` real seconds, stamped with their simulated times: the
    quiet hours between arrivals and departures are skipped, so every fault meets steady traffic."""
    for i, (at, card) in enumerate(scans):
        await asyncio.sleep(max(0.0, started + i * span_s / len(scans) - time.monotonic()))
        await kiosk.scan(card, at)


async def tick(kiosk: SimKiosk, stop: asyncio.Event) -> None:
    """The kiosk's periodic round, as the page's timer: retry what waits, confirm what is held."""
    while not stop.is_set():
        if kiosk.journal:
            await kiosk.sync()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)
