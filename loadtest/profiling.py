"""Where a gateway's time goes during a run: py-spy attached to the process, folded into a short table."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

# Leaf frames are charged to the first group whose marker is in the frame's file path.
GROUPS = [
    ("card signature (Ed25519)", ("checkin/cards/format.py", "cryptography")),
    ("redis-py client", ("redis/",)),
    ("hiredis parser", ("hiredis",)),
    ("aiohttp HTTP server", ("aiohttp/",)),
    ("multidict/yarl", ("multidict", "yarl")),
    ("gateway code", ("checkin/gateway/",)),
    ("checkin library", ("checkin/",)),
    ("asyncio / uvloop", ("asyncio", "uvloop")),
    ("json (orjson)", ("orjson",)),
]
# Functions whose whole subtree is worth a line of its own.
INCLUSIVE = [
    "post_scan", "post_batch", "_scan", "_pipeline", "_drain", "check", "parse_scan", "decode_result",
    "_answer_json", "json_response", "error_middleware", "data_received",
]


def py_spy() -> str | None:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return found if Path(found).exists() else None


def start(pid: int, seconds: int, out: Path) -> subprocess.Popen[bytes] | None:
    """Sample the process for `seconds` (100 Hz, without pausing it) into a folded-stacks file."""
    exe = py_spy()
    if exe is None:
        return None
    return subprocess.Popen(
        [exe, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "100", "--nonblocking",
         "--format", "raw", "--output", str(out)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _file_of(frame: str) -> str:
    start, end = frame.rfind("("), frame.rfind(":")
    return frame[start + 1:end] if 0 <= start < end else frame


def _name_of(frame: str) -> str:
    return frame.split(" (", 1)[0]


def summarize(folded: Path) -> dict[str, object]:
    """Share of samples by leaf group, and by inclusive function, from py-spy's raw output."""
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in folded.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        path = _file_of(frames[-1])
        group = next((g for g, marks in GROUPS if any(m in path for m in marks)), "other")
        leaf[group] += count
        for name in {_name_of(f) for f in frames}:
            if name in INCLUSIVE:
                inclusive[name] += count
    if total == 0:
        return {"samples": 0}
    return {
        "samples": total,
        "by_leaf": {k: round(100 * v / total, 1) for k, v in leaf.most_common()},
        "inclusive": {k: round(100 * v / total, 1) for k, v in inclusive.most_common()},
    }
