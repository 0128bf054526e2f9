"""Accounts that never come back are removed, so the users table does not grow for ever.

Every join under a free name makes an account, and a rename makes another. An account is
*dormant* once `account_retention_days` have passed since it was last online (its last
connection closed, or it was made and never used again). A dormant account that is not
online is removed: its name is free, its token names no one, it is in no room. Its
messages stay, under the name they were sent with, and a direct message with it stays
with the other person. Rooms have no owner in rtchat (a room is its members'), so a room
outlives the account that made it.

Each node runs the clean-up at its first sweep after it starts and then every
`CLEANUP_EVERY` seconds, in the background; nodes
sharing a store may run it at the same time (a removal is one conditional step, and a
second one finds nothing).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from rtchat.domain.errors import ChatError
from rtchat.service.context import Context
from rtchat.service.limits import CLEANUP_BATCH, CLEANUP_EVERY, CLEANUP_MAX_BATCHES

log = logging.getLogger(__name__)


class Cleanup:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx
        self._next = ctx.clock.monotonic()  # due at once: a node that restarts cleans up
        self._task: asyncio.Task[int] | None = None

    def tick(self) -> None:
        """Start a run in the background if one is due (called by the node's sweep)."""
        now = self._ctx.clock.monotonic()
        if now < self._next or (self._task is not None and not self._task.done()):
            return
        self._next = now + CLEANUP_EVERY
        self._task = asyncio.create_task(self._logged())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def run(self) -> int:
        """Remove up to `CLEANUP_MAX_BATCHES` batches of dormant accounts; how many went."""
        ctx = self._ctx
        days = ctx.limits.account_retention_days
        if days <= 0:
            return 0
        now = ctx.clock.now()
        cutoff = now - timedelta(days=days)
        removed = 0
        for _ in range(CLEANUP_MAX_BATCHES):
            batch = await ctx.storage.users.dormant(cutoff, CLEANUP_BATCH)
            online = await ctx.presence.online([u.id for u in batch])
            for user in batch:
                if user.id in online:
                    # Online all this time (one long-lived tab): seen now, so the next
                    # batch moves on past them.
                    await ctx.storage.users.seen(user.id, now)
                elif await ctx.storage.users.release(user.id, unseen_since=cutoff):
                    removed += 1
            if len(batch) < CLEANUP_BATCH:
                break
        return removed

    async def _logged(self) -> int:
        try:
            removed = await self.run()
        except ChatError as error:
            log.warning("the clean-up of old accounts failed (%s); trying later", error.code)
            return 0
        except Exception:
            log.exception("the clean-up of old accounts failed; trying later")
            return 0
        if removed:
            log.info(
                "removed %d accounts offline for %g days",
                removed,
                self._ctx.limits.account_retention_days,
            )
        return removed
