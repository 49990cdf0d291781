from checkin.gateway.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_burst_then_refill_per_device() -> None:
    clock = Clock()
    limiter = RateLimiter(rate_per_s=2, burst=3, clock=clock)
    assert [limiter.retry_after("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.retry_after("a") == 0.5  # empty: one token comes in half a second
    assert limiter.retry_after("b") == 0  # another device is untouched
    clock.now = 0.5
    assert limiter.retry_after("a") == 0
    assert limiter.retry_after("a") > 0
    clock.now = 100
    assert [limiter.retry_after("a") for _ in range(4)] == [0, 0, 0, 0.5]  # refills only up to the burst


def test_memory_is_bounded() -> None:
    limiter = RateLimiter(rate_per_s=1, burst=1, max_devices=10)
    for i in range(25):
        limiter.retry_after(f"d{i}")
    assert len(limiter._buckets) <= 10
