"""Deadlines for every connection from one timer.

Every entry of a `DeadlineQueue` waits the same delay, so entries added later expire
later: an insertion-ordered dict is already sorted by deadline. One `loop.call_at`
handle, for the earliest entry, serves all of them, where a timer (or a task) per
connection would cost memory and scheduling per connection. Expiry is exact: an entry
fires at `added + delay`, not at the next tick of a coarse clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")

# A loop timer may wake a hair early (uvloop counts whole milliseconds).
_SLACK = 0.001


class DeadlineQueue(Generic[K]):
    def __init__(self, delay: float, expire: Callable[[K], None]) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self.delay = delay
        self._expire = expire
        self._due: dict[K, float] = {}
        self._handle: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._due)

    def __contains__(self, key: K) -> bool:
        return key in self._due

    def add(self, key: K) -> None:
        """(Re)start `key`'s deadline at now + delay."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        self._due.pop(key, None)
        self._due[key] = self._loop.time() + self.delay
        if self._handle is None:
            self._arm()

    def remove(self, key: K) -> None:
        self._due.pop(key, None)
        # The timer may now fire early for nothing; it re-arms itself for the next one.

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._due.clear()

    def _arm(self) -> None:
        if self._due and self._loop is not None:
            first = next(iter(self._due.values()))
            self._handle = self._loop.call_at(first, self._fire)
        else:
            self._handle = None

    def _fire(self) -> None:
        assert self._loop is not None
        now = self._loop.time()
        due = self._due
        expired: list[K] = []
        for key, deadline in due.items():
            if deadline > now + _SLACK:
                break
            expired.append(key)
        for key in expired:
            del due[key]
        self._arm()
        for key in expired:
            self._expire(key)


class Batch(Generic[K]):
    """Entries gathered until `delay` after the first of them, then handed to `due` all at
    once: one timer for a whole batch, however many join it."""

    def __init__(self, delay: float, due: Callable[[list[K]], None]) -> None:
        self.delay = delay
        self._due = due
        self._entries: list[K] = []
        self._handle: asyncio.TimerHandle | None = None

    def add(self, key: K) -> None:
        self._entries.append(key)
        if self._handle is None:
            self._handle = asyncio.get_running_loop().call_later(self.delay, self._fire)

    def close(self) -> None:
        """Forget what waits, and fire no more."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._entries = []

    def _fire(self) -> None:
        self._handle = None
        entries, self._entries = self._entries, []
        self._due(entries)
