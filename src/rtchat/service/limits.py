"""The service's limits: page sizes, and the settings a deployment chooses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rtchat.ports import RateLimiter

HISTORY_PAGE = 50
MAX_HISTORY_PAGE = 100
SYNC_PAGE = 500
SYNC_BUDGET = 2000
"""Messages one `sync` answers at most over all its rooms: 200 rooms of 500 would be
100,000 messages, tens of megabytes in one answer, past the bound on a connection's
unsent output (so the answer would close the connection it was for)."""
MAX_SYNC_ROOMS = 200
ONLINE_LIST_LIMIT = 100
MEMBERS_LISTED = 200
"""Members `join-room` lists at most, by name (`memberCount` counts them all): every
account is a member of `general`, and listing 20,000 of them took 500 ms a time."""
ONLINE_SCAN = 1000
"""Members of a room (other than `general`) `list-online` looks among for those online."""
ROOMS_PAGE = 100
"""Rooms `list-rooms` answers when it is not asked for a page size (and when it is not
asked for a page at all, as clients written before pages asked)."""
MAX_ROOMS_PAGE = 200
SEARCH_PAGE = 20
MAX_SEARCH_PAGE = 50
JOINS_AT_ONCE = 32
JOINS_AT_ONCE_PER_ADDRESS = 16
"""Joins and token connects one node runs at once, in all and for one address; more
wait their turn (`Admission`)."""
READS_AT_ONCE = 16
READS_AT_ONCE_PER_ADDRESS = 4
"""Likewise for the requests that read pages: `sync`, `history`, `join-room`,
`list-rooms`, `list-online`, `session`, `search`."""
CLEANUP_EVERY = 300.0
"""Seconds between two runs of the clean-up of accounts that never came back (the first
runs as a node starts)."""
CLEANUP_BATCH = 100
CLEANUP_MAX_BATCHES = 10
"""Batches one clean-up run removes at most, so a backlog is worked off over several runs
rather than by one long one."""


@dataclass(frozen=True, slots=True)
class Limits:
    """`send_rate` messages per second per user, with bursts of `send_burst` (0 turns the
    limit off; benchmarks do). `name_grace`: seconds a username stays reserved for its
    owner after they went offline (or after a single node started). `joins_per_minute`:
    joins one address may make a minute (in bursts of as many); `rooms_per_hour` and
    `rooms_per_hour_per_address`: rooms one account and one address may create an hour;
    0 turns each off. `account_retention_days`: days after which an account nobody
    connected with is removed (0 keeps every account). `edit_window`: see below."""

    send_rate: float = 10.0
    send_burst: float = 20.0
    name_grace: float = 60.0
    joins_per_minute: float = 30.0
    rooms_per_hour: float = 10.0
    rooms_per_hour_per_address: float = 30.0
    account_retention_days: float = 30.0
    edit_window: float = 900.0
    """Seconds after posting during which a message may be edited; 0: always."""


@dataclass(frozen=True, slots=True)
class Limiters:
    """The token buckets the use cases spend from, each shared by every node: messages by
    account, joins by address, room creations by account and by address. Their keys are
    prefixed apart, so all may share one backend."""

    messages: RateLimiter
    joins: RateLimiter
    rooms: RateLimiter
    rooms_by_address: RateLimiter

    @classmethod
    def build(cls, limits: Limits, make: Callable[[float, float], RateLimiter]) -> Limiters:
        """Every bucket at the rates `limits` sets; `make(rate per second, burst)` makes one
        limiter of the backend the caller picked."""

        def per(count: float, seconds: float) -> RateLimiter:
            return make(count / seconds, max(count, 1.0))

        return cls(
            messages=make(limits.send_rate, limits.send_burst),
            joins=per(limits.joins_per_minute, 60),
            rooms=per(limits.rooms_per_hour, 3600),
            rooms_by_address=per(limits.rooms_per_hour_per_address, 3600),
        )
