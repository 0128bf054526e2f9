from __future__ import annotations

from rtchat.domain.ratelimit import TokenBucket


def test_burst_then_steady_rate() -> None:
    bucket = TokenBucket(rate=10, burst=20)
    assert all(bucket.take(100.0) for _ in range(20))
    assert not bucket.take(100.0)
    assert bucket.take(100.15)  # one token back after 0.1 s
    assert not bucket.take(100.15)


def test_tokens_never_exceed_the_burst() -> None:
    bucket = TokenBucket(rate=10, burst=3)
    bucket.take(0.0)
    assert sum(bucket.take(1000.0) for _ in range(10)) == 3


def test_rate_zero_is_unlimited() -> None:
    bucket = TokenBucket(rate=0, burst=1)
    assert all(bucket.take(0.0) for _ in range(1000))
