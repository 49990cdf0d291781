"""Card text fitting: shrink before wrapping, wrap at spaces before characters, cut only as a last resort."""

from __future__ import annotations

from checkin.cards.fit import ELLIPSIS, Fitted, fit_text


def em(text: str, size: float) -> float:
    """Every character one em wide: enough to reason about the fitting without a font."""
    return len(text) * size


def test_a_text_that_fits_keeps_its_size() -> None:
    assert fit_text("志工服務證", 50, em, largest=8, smallest=6).lines == ("志工服務證",)
    assert fit_text("志工服務證", 50, em, largest=8, smallest=6).size == 8


def test_it_shrinks_before_it_wraps() -> None:
    fitted = fit_text("志工服務證", 32, em, largest=8, smallest=6)  # 5 ems at 6.5 is 32.5, at 6 is 30
    assert fitted == Fitted(6, ("志工服務證",))


def test_it_wraps_at_a_space_when_one_line_cannot_shrink_enough() -> None:
    fitted = fit_text("2023 台灣燈會在臺北（示範） 志工服務證", 100, em, largest=8, smallest=6)
    assert fitted.lines == ("2023 台灣燈會在臺北（示範）", "志工服務證")
    assert all(em(line, fitted.size) <= 100 for line in fitted.lines)


def test_a_closing_mark_never_starts_a_line() -> None:
    fitted = fit_text("台灣燈會在臺北（示範）志工", 80, em, largest=8, smallest=8)
    assert fitted.lines == ("台灣燈會在臺北（示", "範）志工")


def test_too_long_is_cut_with_an_ellipsis_inside_the_box() -> None:
    fitted = fit_text("臺" * 100, 40, em, largest=8, smallest=6, max_lines=2)
    assert len(fitted.lines) == 2 and fitted.lines[-1].endswith(ELLIPSIS)
    assert all(em(line, fitted.size) <= 40 for line in fitted.lines)
