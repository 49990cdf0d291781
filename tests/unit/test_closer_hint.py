"""The gate's "hold it closer" rule (kiosk/gate/scanner.js CloserHint), run by node on made-up frame sequences:
a code located but unread for 2 s shows the hint; a read, or a second with no code located, ends it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNER = REPO / "kiosk" / "gate" / "scanner.js"
RUN = """
import { readFileSync } from "node:fs";
const source = readFileSync(process.argv[1], "utf8");
const { CloserHint } = await import(`data:text/javascript;base64,${Buffer.from(source).toString("base64")}`);
const out = [];
for (const frames of JSON.parse(process.argv[2])) {
  const hint = new CloserHint();
  out.push(frames.map(([at, located, read]) => hint.update(at, located, read)));
}
process.stdout.write(JSON.stringify(out));
"""


def run(*sequences: list[tuple[int, bool, bool]]) -> list[list[bool]]:
    node = shutil.which("node")
    assert node, "node is needed to test the kiosk's scanner rules (make browser-deps installs it)"
    done = subprocess.run([node, "--input-type=module", "-e", RUN, str(SCANNER), json.dumps(sequences)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    result: list[list[bool]] = json.loads(done.stdout)
    return result


def frames(start: int, end: int, located: bool = True, read: bool = False) -> list[tuple[int, bool, bool]]:
    """A frame every 120 ms, as the reader decodes them."""
    return [(at, located, read) for at in range(start, end, 120)]


def test_two_seconds_of_an_unread_code_show_the_hint() -> None:
    (shown,) = run(frames(0, 2400))
    first = next(i for i, on in enumerate(shown) if on)
    assert frames(0, 2400)[first][0] == 2040  # the first frame 2 s after the code was first located
    assert all(shown[first:])


def test_every_other_frame_is_enough() -> None:
    # the whole frame finds nothing, the full-resolution crop locates the code: the hint still comes
    sequence = [(at, (at // 120) % 2 == 1, False) for at in range(0, 2600, 120)]
    (shown,) = run(sequence)
    assert shown[-1] and not any(shown[:16])


def test_a_read_or_a_second_without_a_code_ends_it() -> None:
    read, gone, nothing = run(
        [*frames(0, 2400), (2400, False, True), *frames(2520, 3000)],
        [*frames(0, 2400), *frames(2400, 3600, located=False), *frames(3600, 4000)],
        frames(0, 5000, located=False),
    )
    assert read[19] and not any(read[20:])  # read at 2.4 s; the code located again is new, under 2 s
    assert gone[19] and not gone[-1]  # the hint lingers under a second, then starts over
    assert not any(nothing)
