"""The output budget: unsent bytes of the connections that are behind, and their total.

Only a connection with more than `eio_session.BACKLOG` unsent bytes is tracked (the
driver notes it after a write, and forgets it when its transport drains), so the
connections that keep up cost nothing here. The sizes noted are the last ones measured;
the kernel takes bytes from a buffer without telling us, so they are an upper bound,
measured afresh before anyone is dropped for the budget.

One `Backlog` may hold the connections of several endpoints (Engine.IO's and `/ws`), so
that the budget is one for all of a process's connections. Each connection is noted with
its `Owner`, which measures it again and drops it: the connections dropped to relieve the
budget are the biggest of all, whichever endpoint they belong to.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

K = TypeVar("K", contravariant=True)


class Owner(Protocol[K]):
    """The endpoint a tracked connection belongs to."""

    def unsent_bytes(self, key: K) -> int:
        """`key`'s unsent bytes now."""
        ...

    def is_closing(self, key: K) -> bool:
        """Whether `key` is closing already (dropping it frees its bytes soonest)."""
        ...

    def drop_for_budget(self, key: K, detail: str) -> None:
        """Drop `key`, at once: it is its buffers that must go."""
        ...


class Backlog:
    __slots__ = ("_owners", "_sizes", "budget", "total")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._sizes: dict[object, int] = {}
        self._owners: dict[object, Owner[Any]] = {}
        self.total = 0

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, key: object) -> bool:
        return key in self._sizes

    def note(self, owner: Owner[K], key: K, size: int) -> bool:
        """`key` (of `owner`) has `size` unsent bytes; True if the total is now over the
        budget."""
        self.total += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        self._owners[key] = owner
        return self.total > self.budget

    def forget(self, key: object) -> None:
        self.total -= self._sizes.pop(key, 0)
        self._owners.pop(key, None)

    def relieve(self) -> None:
        """Measure every entry again; then drop, through their owners, those already
        closing first, then the biggest first, until the rest fit the budget."""
        owners = self._owners
        for key in list(self._sizes):
            size = owners[key].unsent_bytes(key)
            self.total += size - self._sizes[key]
            self._sizes[key] = size
        if self.total <= self.budget:
            return
        total = self.total

        def first_to_go(item: tuple[object, int]) -> tuple[bool, int]:
            return not owners[item[0]].is_closing(item[0]), -item[1]

        order = sorted(self._sizes.items(), key=first_to_go)
        excess = total - self.budget
        for key, size in order:
            if excess <= 0:
                break
            excess -= size
            owner = owners.get(key)
            if owner is None:  # forgotten as an earlier one was dropped (its session's)
                continue
            self.forget(key)
            owner.drop_for_budget(key, f"{size} bytes unsent of {total} in all")
