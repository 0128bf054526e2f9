"""How many heavy requests run at once on this node, so that a flood waits its turn.

Every connection's events already run one at a time, so a client gets more of the
server only by opening more connections. A join or a large read is a handful of steps
between store round trips; 2,000 of them in flight at once put 2,000 steps in the event
loop's queue whenever a store batch answers, and every other user's request waited for
all of them. An `Admission` lets `total` such requests run at once on the node, and
`per_address` of them for one address, so that one address flooding the node holds only
part of it; the rest wait, in order, without being in the loop's queue. Messages and
typing never wait here: they are light, and a message must not suspend before its store
append (`Messaging.post`).

Node-local by nature (it shares out this node's event loop), so it is plain memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class Admission:
    def __init__(self, total: int, per_address: int) -> None:
        self._all = asyncio.Semaphore(total)
        self._per_address = per_address
        self._addresses: dict[str, tuple[asyncio.Semaphore, int]] = {}

    @contextlib.asynccontextmanager
    async def slot(self, address: str | None) -> AsyncIterator[None]:
        """Hold one of the node's slots (and one of `address`'s) while the body runs."""
        if address is None:
            async with self._all:
                yield
            return
        semaphore, users = self._addresses.get(address, (None, 0))
        if semaphore is None:
            semaphore = asyncio.Semaphore(self._per_address)
        self._addresses[address] = (semaphore, users + 1)
        try:
            async with semaphore, self._all:
                yield
        finally:
            semaphore, users = self._addresses[address]
            if users == 1:
                del self._addresses[address]
            else:
                self._addresses[address] = (semaphore, users - 1)

    def addresses_waiting(self) -> int:
        """Addresses with a request running or waiting (tests check that none is kept)."""
        return len(self._addresses)
