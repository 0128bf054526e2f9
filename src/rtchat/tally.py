"""A histogram as plain ints, for the code that counts on the event loop.

prometheus-client's own `Histogram.observe` takes a lock on every call; everything here
runs on one thread, so a bucket index and two additions do. `rtchat.metrics` reads these
at scrape time.
"""

from __future__ import annotations

from bisect import bisect_left


class Tally:
    """Counts of observations per bucket (`bounds` are the buckets' upper edges, ascending;
    one more bucket holds what is above the last), and their sum."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        # bisect_left: a value equal to an edge belongs to that bucket (Prometheus's `le`).
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)
