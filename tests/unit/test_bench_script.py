"""loadtest/bench_script.py cuts the real scan script at named lines: they must still be there, in order."""

from __future__ import annotations

from checkin.scan.script import SCRIPT
from loadtest.bench_script import CUTS, EARLY_RETURN, variants


def test_every_cut_finds_its_line_in_order_and_returns_early_there() -> None:
    found = variants()
    assert [label for label, _ in found[:-1]] == [label for label, _ in CUTS] and found[-1][1] == SCRIPT
    positions = [SCRIPT.index(marker) for _, marker in CUTS]
    assert positions == sorted(positions)  # each cut runs more of the script than the one before
    for (_, marker), (_, text) in zip(CUTS, found, strict=False):
        assert text.count(EARLY_RETURN) == 1 and text.index(EARLY_RETURN) == SCRIPT.index(marker)
