"""The camera probe (tests/browser/camera_probe.py) through its arguments: the figures it prints are the ones
the camera tests quote, so its reading of the kiosk's two views is held here."""

from __future__ import annotations

import pytest

from tests.browser.camera_probe import Tally, main


def test_a_small_card_is_read_in_the_crop_and_not_in_the_scaled_frame(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--share", "0.17", "--cards", "2", "--view", "crop"]) == Tally(2, 2, 2)
    assert "centre crop: located 2 of 2, read 2 of 2" in capsys.readouterr().out
    # Not located: a small scaled card is found on most cards only (97 of 100), never read.
    scaled = main(["--share", "0.17", "--cards", "2"])
    assert (scaled.cards, scaled.read) == (2, 0)


@pytest.mark.parametrize("argv", [["--share", "0"], ["--share", "0.2", "--cards", "0"],
                                  ["--share", "0.2", "--cards", "201"], ["--share", "0.2", "--view", "side"], []])
def test_bad_arguments_are_refused_with_a_message(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err
