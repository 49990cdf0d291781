"""What the commands print: results as JSON on stdout, the domain's refusals on stderr in one wording."""

from __future__ import annotations

import functools
import sys
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec

import orjson

from checkin.errors import DomainError

P = ParamSpec("P")
Command = Callable[P, Awaitable[int]]


def out(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def refusal(exc: DomainError) -> int:
    """Say a refusal (by its kind, as the gateway maps them) and give the exit code: 2 for bad input, else 1."""
    word = "error" if exc.kind in ("invalid", "not_found") else "refused"
    print(f"checkin: {word}: {exc.message}", file=sys.stderr)
    return 2 if exc.kind == "invalid" else 1


def refusing(*kinds: type[DomainError]) -> Callable[[Command[P]], Command[P]]:
    """A command that says these refusals and exits with their code, even when called without dispatch."""

    def wrap(command: Command[P]) -> Command[P]:
        @functools.wraps(command)
        async def run(*args: P.args, **kwargs: P.kwargs) -> int:
            try:
                return await command(*args, **kwargs)
            except kinds as exc:
                return refusal(exc)

        return run

    return wrap
