"""Fitting a line of card text into its box: shrink first, then wrap, and never run past the box.

Pure: the caller passes how wide a text is at a font size, so this knows nothing of fpdf2.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

Measure = Callable[[str, float], float]  # (text, font size in pt) -> width in the box's unit

# a line must not start with closing punctuation, so "（示範）" never leaves "）" alone on a line
_NO_LINE_START = frozenset("）)」』】〉》，,。.、：:；;！!？?")
ELLIPSIS = "…"


@dataclass(frozen=True)
class Fitted:
    size: float
    lines: tuple[str, ...]


def _sizes(largest: float, smallest: float, step: float) -> list[float]:
    sizes, size = [], largest
    while size >= smallest - 1e-9:
        sizes.append(round(size, 2))
        size -= step
    return sizes


def _break_chars(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Break anywhere between characters (Chinese has no spaces), keeping closing marks attached."""
    lines: list[str] = []
    line = ""
    for char in text:
        if not line or fits(line + char):
            line += char
        elif char in _NO_LINE_START and len(line) > 1:
            lines.append(line[:-1])  # carry the last character down with its closing mark
            line = line[-1] + char
        else:
            lines.append(line)
            line = char.lstrip()
    if line:
        lines.append(line)
    return lines


def wrap(text: str, fits: Callable[[str], bool], *, by_words: bool = True) -> list[str]:
    """Greedy wrap at spaces; a word wider than a line (or the whole text, when not by words) is broken."""
    if not by_words:
        return _break_chars(text, fits)
    lines: list[str] = []
    line = ""
    for word in text.split():
        candidate = f"{line} {word}" if line else word
        if fits(candidate):
            line = candidate
            continue
        if line:
            lines.append(line)
        pieces = _break_chars(word, fits) if not fits(word) else [word]
        lines.extend(pieces[:-1])
        line = pieces[-1]
    if line:
        lines.append(line)
    return lines


def _cut(line: str, fits: Callable[[str], bool]) -> str:
    while line and not fits(line + ELLIPSIS):
        line = line[:-1]
    return line.rstrip() + ELLIPSIS


def _fits_at(measure: Measure, size: float, width: float) -> Callable[[str], bool]:
    return lambda text: measure(text, size) <= width


def fit_text(text: str, width: float, measure: Measure, *, largest: float, smallest: float,
             max_lines: int = 2, step: float = 0.5) -> Fitted:
    """The largest size at which `text` fits on one line, else wrapped into `max_lines`; else cut with …"""
    text = " ".join(text.split())
    sizes = _sizes(largest, smallest, step)
    for size in sizes:
        if measure(text, size) <= width:
            return Fitted(size, (text,))
    if max_lines > 1:
        for by_words in (True, False):  # a break at a space reads better, so try that at every size first
            for size in sizes:
                lines = wrap(text, _fits_at(measure, size, width), by_words=by_words)
                if len(lines) <= max_lines:
                    return Fitted(size, tuple(lines))
    size = sizes[-1]
    fits = _fits_at(measure, size, width)
    lines = wrap(text, fits, by_words=False)[:max_lines]
    return Fitted(size, (*lines[:-1], _cut(lines[-1], fits)))
