"""The pure rules of staff sign-in: which passwords are refused and why, the waits after failures, the lockout."""

from __future__ import annotations

import pytest

from checkin.access.signin_rules import (
    FREE_FAILURES,
    LOCK_AFTER,
    MIN_PASSWORD,
    check_password,
    locks,
    wait_after,
)
from checkin.errors import Invalid


@pytest.mark.parametrize(("password", "code"), [
    ("", "password_too_short"), ("a" * (MIN_PASSWORD - 1), "password_too_short"),
    ("1234567890", "password_too_common"), ("QWERTYUIOP", "password_too_common"), ("Password123", "password_too_common"),
    ("aaaaaaaaaaaa", "password_too_common"), ("abababababab", "password_too_common"),
    ("chen.mei-ling", "password_too_common"),  # the sign-in name itself
    ("x" * 300, "invalid_field"),
])
def test_refused_passwords_say_why(password: str, code: str) -> None:
    with pytest.raises(Invalid) as refused:
        check_password(password, login="Chen.Mei-Ling", name="陳美玲")
    assert refused.value.code == code and refused.value.field == "password"


@pytest.mark.parametrize("password", ["燈會志工-north-gate-7", "correct horse battery", "a" * 9 + "b" + "c"])
def test_reasonable_passwords_pass(password: str) -> None:
    check_password(password, login="chen", name=None)


def test_the_first_failures_are_free_then_waits_double_up_to_the_most() -> None:
    assert [wait_after(n, 1000, 300_000) for n in range(FREE_FAILURES)] == [0] * FREE_FAILURES
    waits = [wait_after(n, 1000, 300_000) for n in range(FREE_FAILURES, FREE_FAILURES + 12)]
    assert waits[:4] == [1000, 2000, 4000, 8000]
    assert waits == sorted(waits) and waits[-1] == 300_000
    assert wait_after(10_000, 1000, 300_000) == 300_000  # no overflow however long it goes on
    assert wait_after(50, 0, 300_000) == 0  # a base of 0 turns waits off


def test_the_twentieth_failure_locks() -> None:
    assert LOCK_AFTER == 20
    assert not locks(LOCK_AFTER - 1) and locks(LOCK_AFTER)
