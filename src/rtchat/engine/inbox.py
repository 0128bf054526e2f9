"""One connection's handlers, run in arrival order: a Socket.IO session's (`server.py`)
and a plain WebSocket connection's (`plain_ws.py`).

A connection with work gets one task that drains its inbox and ends when it is empty, so
an idle connection has none. Steps marked `overlap` start in arrival order, each running
until it first waits before the next starts, and may then finish in any order; any other
step waits for them all first. A client that sends faster than its steps finish is read
no further (`reading(False)`) until they catch up: its requests wait here, bounded.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[None]]

# Steps queued past which reading pauses, and below which it resumes.
PAUSE_AT, RESUME_AT = 256, 32
# At most this many overlapping steps run for one connection at once.
OVERLAP_MAX = 64


class Inbox:
    __slots__ = ("_idle", "_items", "_reading", "_tasks")

    def __init__(
        self,
        reading: Callable[[bool], None],
        tasks: set[asyncio.Task[None]],
        idle: Callable[[], None] | None = None,
    ) -> None:
        self._items: deque[tuple[Step, bool]] | None = None
        self._reading = reading
        self._tasks = tasks  # the owner's, so that its shutdown can wait for them
        self._idle = idle  # told each time every step has finished

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
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            return
        items.append((step, overlap))
        if len(items) == PAUSE_AT:
            self._reading(False)

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
                    self._reading(True)
            if not running:
                break
            await asyncio.wait(running)
        self._items = None
        if self._idle is not None:
            self._idle()


async def _logged(step: Awaitable[None]) -> None:
    try:
        await step
    except Exception:
        log.exception("handler failed")
