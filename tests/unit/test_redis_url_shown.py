"""A Redis URL in a message never shows its password (the embedded Valkey's is in the URL it is reached by)."""

from __future__ import annotations

import pytest

from checkin.redis_conn import shown


@pytest.mark.parametrize(("url", "expected"), [
    ("redis://:e9552f10c2ad@127.0.0.1:6390/0", "redis://:***@127.0.0.1:6390/0"),
    ("redis://checkin:s3cret@cache:6379/0", "redis://checkin:***@cache:6379/0"),
    ("rediss://checkin:p%40ss@cache:6380/1", "rediss://checkin:***@cache:6380/1"),
    ("redis://cache:6379/0", "redis://cache:6379/0"),
    ("unix:///run/valkey.sock", "unix:///run/valkey.sock"),
])
def test_the_password_is_left_out(url: str, expected: str) -> None:
    assert shown(url) == expected
