"""The embedded servers' keeper: a dead server restarted at once, one that keeps dying or will not start
waited for longer each time, and its state as `checkin status` and /readyz show it. The clock is the
test's own, so no test waits."""

from __future__ import annotations

from checkin.cli.server_keeper import BACKOFF_S, RETRY_S, STABLE_S, ServerKeeper


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Server:
    """Alive until killed; a restart brings it back unless it is told to fail."""

    def __init__(self) -> None:
        self.up = True
        self.failures_left = 0
        self.restarts = 0

    def alive(self) -> bool:
        return self.up

    def restart(self) -> None:
        if self.failures_left:
            self.failures_left -= 1
            raise RuntimeError("shared memory still in use")
        self.restarts += 1
        self.up = True


def test_a_live_server_is_left_alone() -> None:
    server, clock = Server(), Clock()
    keeper = ServerKeeper("Valkey", server, clock)
    assert not keeper.check()
    assert server.restarts == 0 and keeper.status.as_json()["state"] == "running"


def test_a_dead_server_is_restarted_at_once_and_counted() -> None:
    server, clock = Server(), Clock()
    keeper = ServerKeeper("Valkey", server, clock)
    server.up = False
    assert keeper.check()
    assert server.restarts == 1
    assert keeper.status.as_json() == {"state": "running", "restarts": 1, "down_since": None, "last_error": ""}


def test_a_server_that_keeps_dying_waits_longer_each_time() -> None:
    server, clock = Server(), Clock()
    keeper = ServerKeeper("Valkey", server, clock)
    for crash, pause in enumerate(BACKOFF_S[:5]):
        server.up = False
        keeper.check()
        if pause:
            assert server.restarts == crash and keeper.status.state == "backing_off"
            clock.now += pause - 0.01
            keeper.check()
            assert server.restarts == crash, "restarted before its pause was over"
            clock.now += 0.01
            keeper.check()
        assert server.restarts == crash + 1 and keeper.status.state == "running"
        clock.now += 1  # dies again a second later


def test_up_long_enough_the_next_crash_is_restarted_at_once_again() -> None:
    server, clock = Server(), Clock()
    keeper = ServerKeeper("Valkey", server, clock)
    server.up = False
    keeper.check()
    clock.now += STABLE_S
    keeper.check()  # the keeper notices it stayed up
    server.up = False
    keeper.check()
    assert server.restarts == 2


def test_a_failed_restart_is_tried_again_after_a_pause_and_said() -> None:
    server, clock = Server(), Clock()
    keeper = ServerKeeper("PostgreSQL", server, clock)
    server.up, server.failures_left = False, 3
    keeper.check()
    assert keeper.status.state == "backing_off" and "shared memory" in keeper.status.last_error
    assert keeper.status.down_since is not None
    for pause in RETRY_S[:3]:
        assert not keeper.check(), "tried again before the pause was over"
        clock.now += pause
        keeper.check()
    assert server.restarts == 1 and keeper.status.state == "running" and keeper.status.last_error == ""
