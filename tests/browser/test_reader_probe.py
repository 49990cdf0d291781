"""The reader probe (tests/browser/reader_probe.py) through its arguments: it runs the gate's own camera reader,
so a card well in view is read, and both views' decodes are timed."""

from __future__ import annotations

import pytest

from tests.browser.reader_probe import main


def test_a_card_in_view_is_read_and_each_view_timed(capsys: pytest.CaptureFixture[str]) -> None:
    tally = main(["--share", "0.3", "--cards", "1", "--wait", "30"])
    assert (tally.cards, tally.read) == (1, 1)
    assert len(tally.seconds_to_read) == 1 and 0 < tally.seconds_to_read[0] <= 30
    assert all(ms > 0 for ms in tally.scaled_ms + tally.crop_ms)
    out = capsys.readouterr().out
    assert "the camera reader read 1 of 1 within 30 s" in out
    assert "centre crop" in out


@pytest.mark.parametrize("argv", [["--share", "0"], ["--share", "0.2", "--cards", "201"],
                                  ["--share", "0.2", "--wait", "0"], ["--share", "0.2", "--wait", "61"], []])
def test_bad_arguments_are_refused_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
