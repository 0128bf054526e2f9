"""The output budget: unsent bytes of the connections that are behind, and their total.

Only a connection with more than `eio_session.BACKLOG` unsent bytes is tracked (the
driver notes it after a write, and forgets it when its transport drains), so the
connections that keep up cost nothing here. The sizes noted are the last ones measured;
the kernel takes bytes from a buffer without telling us, so they are an upper bound,
measured afresh before anyone is dropped for the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")


class Backlog(Generic[K]):
    __slots__ = ("_sizes", "budget", "total")

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._sizes: dict[K, int] = {}
        self.total = 0

    def __len__(self) -> int:
        return len(self._sizes)

    def __contains__(self, key: K) -> bool:
        return key in self._sizes

    def note(self, key: K, size: int) -> bool:
        """`key` has `size` unsent bytes; True if the total is now over the budget."""
        self.total += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        return self.total > self.budget

    def forget(self, key: K) -> None:
        self.total -= self._sizes.pop(key, 0)

    def over_budget(self, measure: Callable[[K], int], closing: Callable[[K], bool]) -> list[K]:
        """Measure every entry again; the entries to drop so that the rest fit the budget:
        those already closing first, then the biggest first."""
        for key in list(self._sizes):
            self.note(key, measure(key))
        if self.total <= self.budget:
            return []
        order = sorted(self._sizes.items(), key=lambda item: (not closing(item[0]), -item[1]))
        excess = self.total - self.budget
        victims: list[K] = []
        for key, size in order:
            if excess <= 0:
                break
            victims.append(key)
            excess -= size
        return victims
