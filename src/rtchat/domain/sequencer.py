"""Puts one room's numbered events back in order and lets each through once. Pure.

Every node delivers a room's messages to its own members. They reach it from several
places — its own posts, other nodes through the fan-out, the store when a gap is filled —
and not always in order: two nodes commit 5 and 6 in that order, but 6's publication may
reach a third node first. A `Sequencer` holds what arrives early, lets through what comes
next, drops what it has let through already, and says which numbers are missing so that
the caller can read them from the store.

Until it has a `baseline` (the room's last sequence number when this node started to
follow the room), it cannot tell early from late, so it holds everything.
"""

from __future__ import annotations

from typing import Generic, TypeVar

T = TypeVar("T")

MAX_HELD = 10_000
"""Events held for one room at most. Past it, the oldest are dropped (the gap fill from
the store brings them back), so a node whose link lost one message cannot grow without end."""


class Sequencer(Generic[T]):
    __slots__ = ("held", "last")

    def __init__(self) -> None:
        self.last: int | None = None
        """The highest sequence number let through; None until the baseline is known."""
        self.held: dict[int, T] = {}

    def baseline(self, seq: int) -> list[T]:
        """Everything after `seq` is new. Returns what can go out now, in order."""
        if self.last is not None and self.last >= seq:
            return []
        self.last = seq
        for early in [s for s in self.held if s <= seq]:
            del self.held[early]
        return self._release()

    def offer(self, seq: int, item: T) -> list[T]:
        """`item` carries `seq`; returns what can go out now (maybe nothing), in order."""
        last = self.last
        if last is not None and seq == last + 1 and not self.held:
            self.last = seq  # the common case: next in line, nothing waiting
            return [item]
        if (last is not None and seq <= last) or seq in self.held:
            return []
        self.held[seq] = item
        if len(self.held) > MAX_HELD:
            del self.held[min(self.held)]
        return self._release() if last is not None else []

    def missing(self) -> tuple[int, int] | None:
        """The numbers to read from the store, `(after, up_to)`: after `after`, up to and
        including `up_to`; None when nothing is held back by a gap."""
        if self.last is None or not self.held:
            return None
        return self.last, min(self.held) - 1

    @property
    def waiting(self) -> bool:
        """Something arrived early and waits for the numbers before it."""
        return bool(self.held) and self.last is not None

    def _release(self) -> list[T]:
        out: list[T] = []
        assert self.last is not None
        nxt = self.last + 1
        held = self.held
        while nxt in held:
            out.append(held.pop(nxt))
            nxt += 1
        self.last = nxt - 1
        return out
