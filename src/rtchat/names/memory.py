"""Name holds in this process's memory: what a single node uses.

Nothing survives a restart here, so every name counts as held for `start_grace` seconds
after the process started: a user whose tab reconnects after a restart finds their name
waiting for them, not taken by whoever was quicker.
"""

from __future__ import annotations

from rtchat.ports import Clock


class MemoryNameHolds:
    def __init__(self, clock: Clock, start_grace: float) -> None:
        self._clock = clock
        self._until: dict[str, float] = {}
        self._start_until = clock.monotonic() + start_grace

    async def hold(self, user_id: str, seconds: float) -> None:
        now = self._clock.monotonic()
        # Forget the holds that ran out, so the table does not grow with every user ever seen.
        if len(self._until) > 1024:
            self._until = {u: t for u, t in self._until.items() if t > now}
        self._until[user_id] = now + seconds

    async def remaining(self, user_id: str) -> float:
        until = self._until.get(user_id, self._start_until)
        return max(0.0, until - self._clock.monotonic())
