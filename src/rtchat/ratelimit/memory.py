"""Token buckets by key in this process's memory: what a single node uses."""

from __future__ import annotations

from rtchat.domain.ratelimit import TokenBucket

_PRUNE_AT = 4096


class MemoryRateLimiter:
    def __init__(self, rate: float, burst: float) -> None:
        self._rate = rate
        self._burst = burst
        self._buckets: dict[str, TokenBucket] = {}

    def allow(self, key: str, now: float) -> bool:
        return self._rate <= 0 or self._bucket(key, now).take(now)

    def _bucket(self, key: str, now: float) -> TokenBucket:
        """`key`'s bucket, new (full) if it had none."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _PRUNE_AT:
                self._prune(now)
            bucket = self._buckets[key] = TokenBucket(self._rate, self._burst)
        return bucket

    def lower(self, key: str, tokens: float) -> None:
        """Take `key`'s bucket down to `tokens` if it holds more (what other nodes spent)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.tokens = min(bucket.tokens, tokens)

    def _prune(self, now: float) -> None:
        # A bucket idle long enough to be full again is the same as no bucket.
        full_after = self._burst / self._rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b.updated < full_after}
