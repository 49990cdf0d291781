"""Commands say the refusals they name and exit with their code; other errors still rise to dispatch."""

from __future__ import annotations

import asyncio

import pytest

from checkin.cli.say import refusing
from checkin.errors import Invalid, NotFound
from checkin.reconcile.store import NotAllowed


@refusing(NotAllowed, Invalid)
async def _command(error: Exception | None) -> int:
    if error is not None:
        raise error
    return 0


def test_named_refusals_are_said_and_exit_with_their_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert asyncio.run(_command(None)) == 0
    assert asyncio.run(_command(NotAllowed("only an admin may"))) == 1
    assert asyncio.run(_command(Invalid("bad day"))) == 2
    assert capsys.readouterr().err == "checkin: refused: only an admin may\ncheckin: error: bad day\n"


def test_other_errors_are_left_to_dispatch() -> None:
    with pytest.raises(NotFound):
        asyncio.run(_command(NotFound("no event")))
