from checkin.gateway.pin_tries import FREE, LOCK_AFTER, LOCK_S, PinTries


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_typos_are_free_then_waits_double_then_a_lockout() -> None:
    clock = Clock()
    tries = PinTries(clock)
    waits = []
    for _ in range(LOCK_AFTER):
        assert tries.wait_s("d1") == 0  # each try below is made once the wait is over
        tries.wrong("d1")
        waits.append(tries.wait_s("d1"))
        clock.now += waits[-1]
    assert waits[:FREE] == [0] * FREE
    assert waits[FREE:-1] == [2 ** n for n in range(1, LOCK_AFTER - FREE)]
    assert waits[-1] == LOCK_S


def test_a_right_pin_clears_the_count_and_devices_are_apart() -> None:
    clock = Clock()
    tries = PinTries(clock)
    for _ in range(FREE + 1):
        tries.wrong("d1")
    assert tries.wait_s("d1") > 0
    assert tries.wait_s("d2") == 0
    tries.right("d1")
    assert tries.wait_s("d1") == 0
    tries.wrong("d1")
    assert tries.wait_s("d1") == 0  # a typo after a success is free again
