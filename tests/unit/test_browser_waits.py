"""The browser tests wait on the page with functions, never with bare expressions: Playwright evaluates an expression
string with eval() each time it polls, which the pages' Content Security Policy refuses, so such a wait failed only
when its condition was not already true at the first look (a CI run found one that way)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

BROWSER_TESTS = Path(__file__).resolve().parents[1] / "browser"
# What Playwright treats as a function: an arrow function or a function expression.
FUNCTION = re.compile(r"^\s*(async\s+)?(\(|\w+\s*=>|function\b)")


def _waits() -> list[tuple[str, int, str]]:
    found = []
    for path in sorted(BROWSER_TESTS.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr == "wait_for_function" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    text = first.value
                elif isinstance(first, ast.JoinedStr) and first.values and isinstance(first.values[0], ast.Constant):
                    text = str(first.values[0].value)
                else:
                    continue
                found.append((path.name, node.lineno, text))
    return found


def test_every_wait_for_function_is_given_a_function() -> None:
    waits = _waits()
    assert len(waits) > 20  # the reader finds the suite's waits
    bare = [f"{name}:{line}: {text[:60]!r}" for name, line, text in waits if not FUNCTION.match(text)]
    assert not bare, "wait with a function ('() => ...'), not an expression string:\n" + "\n".join(bare)


def test_the_check_knows_an_expression_from_a_function() -> None:
    assert FUNCTION.match("() => window.ready") and FUNCTION.match("([s, v]) => s === v")
    assert FUNCTION.match("(before) => x !== before") and FUNCTION.match("async () => 1")
    assert not FUNCTION.match("navigator.serviceWorker.controller !== null")
    assert not FUNCTION.match("document.body.dataset.booted === 'true'")
