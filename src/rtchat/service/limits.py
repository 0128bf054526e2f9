"""The service's limits: page sizes, and the settings a deployment chooses."""

from __future__ import annotations

from dataclasses import dataclass

HISTORY_PAGE = 50
MAX_HISTORY_PAGE = 100
SYNC_PAGE = 500
MAX_SYNC_ROOMS = 200
ONLINE_LIST_LIMIT = 100


@dataclass(frozen=True, slots=True)
class Limits:
    """`send_rate` messages per second per user, with bursts of `send_burst` (0 turns the
    limit off; benchmarks do). `name_grace`: seconds a username stays reserved for its
    owner after they went offline (or after a single node started)."""

    send_rate: float = 10.0
    send_burst: float = 20.0
    name_grace: float = 60.0
