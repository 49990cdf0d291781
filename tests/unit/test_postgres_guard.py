"""A Postgres that dies mid-query is a 503 with Retry-After on the gateway's Postgres routes, never a 500:
asyncpg reports a connection cut under a running query as InternalClientError ("cannot switch to state
12; another operation is in progress"), which the fault suite met when it killed the postmaster."""

from __future__ import annotations

import asyncpg
import pytest

from checkin.gateway.errors import ApiError
from checkin.gateway.errors import postgres_guard as enroll_guard


@pytest.mark.parametrize("error", [
    asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress"),
    asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    ConnectionRefusedError(111, "Connection refused"),
])
async def test_a_postgres_cut_mid_query_is_a_503(error: Exception) -> None:
    with pytest.raises(ApiError) as raised:
        async with enroll_guard():  # device, enrolment and coordinator routes share it
            raise error
    assert raised.value.status == 503 and raised.value.headers["Retry-After"]
