"""One connection's handlers, run in arrival order: a Socket.IO session's (`server.py`)
and a plain WebSocket connection's (`plain_ws.py`).

A connection with work gets one task that drains its inbox and ends when it is empty, so
an idle connection has none. Steps marked `overlap` start in arrival order, each running
until it first waits before the next starts, and may then finish in any order; any other
step waits for them all first. A client that sends faster than its steps finish is read
no further (`reading(False)`) until they catch up: its requests wait here, bounded.

An inbox holds only its owner (the connection) and, while there is work, its steps: one
per connection, so every field here is paid for by every idle connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]

# Steps queued past which reading pauses, and below which it resumes.
PAUSE_AT, RESUME_AT = 256, 32
# At most this many overlapping steps run for one connection at once.
OVERLAP_MAX = 64


class Owner(Protocol):
    """The connection an inbox belongs to."""

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        """Where the inbox's task is kept while it runs, so that a shutdown can wait for it."""
        ...

    def reading(self, on: bool) -> None:
        """Resume reading the connection (`on`), or pause it."""
        ...

    def inbox_idle(self) -> None:
        """Every step has finished."""
        ...


class Inbox:
    __slots__ = ("_items", "_owner")

    def __init__(self, owner: Owner) -> None:
        self._items: deque[tuple[Step, bool]] | None = None
        self._owner = owner

    @property
    def idle(self) -> bool:
        """No step waits or runs."""
        return self._items is None

    def __len__(self) -> int:
        return 0 if self._items is None else len(self._items)

    def put(self, step: Step, *, overlap: bool = False) -> None:
        items = self._items
        if items is None:
            self._items = deque(((step, overlap),))
            task = asyncio.get_running_loop().create_task(self._drain())
            tasks = self._owner.tasks
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return
        items.append((step, overlap))
        if len(items) == PAUSE_AT:
            self._owner.reading(False)

    async def _drain(self) -> None:
        items = self._items
        assert items is not None
        running: set[asyncio.Task[None]] = set()
        loop = asyncio.get_running_loop()
        while True:
            while items:
                step, overlap = items[0]
                if overlap:
                    task = loop.create_task(_logged(step()))
                    running.add(task)
                    task.add_done_callback(running.discard)
                    items.popleft()
                    if len(running) >= OVERLAP_MAX:
                        await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                else:
                    if running:
                        await asyncio.wait(running)
                    await _logged(step())
                    items.popleft()
                if len(items) == RESUME_AT:
                    self._owner.reading(True)
            if not running:
                break
            await asyncio.wait(running)
        self._items = None
        self._owner.inbox_idle()


async def _logged(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:
        log.exception("handler failed")
