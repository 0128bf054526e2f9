"""The edge between asyncpg and the PostgreSQL stores: a pool whose failures are our errors.

Only this module imports asyncpg. Everything above it sees `PgConnection`, whose methods
raise `Conflict` when a constraint refused a write (the stores turn that into their own
codes) and `ChatError` for everything else: `unavailable` when the server cannot be
reached or stopped answering, `internal` (logged) when it answered with an error that no
store expected. Every wait is bounded: connecting by the connect timeout, every statement
by the command timeout, so a dead server is an `unavailable` within seconds, not a hang.

A connection that failed is terminated rather than returned to the pool, and the pool
opens a fresh one on the next request, so the stores heal by themselves when the server
comes back. `healthy` follows the last request: False after an `unavailable`, True again
after the next statement the server answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar, cast
from urllib.parse import parse_qs, urlsplit

import asyncpg  # type: ignore[import-untyped]

from rtchat.domain.errors import ChatError, ErrorCode

T = TypeVar("T")
Row = Sequence[Any]
"""A result row (an `asyncpg.Record`): read by position."""

log = logging.getLogger(__name__)

POOL_SIZE = 10
"""Connections one process opens at most: one for the writer, the rest for reads."""
CONNECT_TIMEOUT = 5.0
"""Seconds to open a connection (TCP, TLS, start-up) before the server counts as gone."""
COMMAND_TIMEOUT = 5.0
"""Seconds one statement may take before the server counts as gone."""

# Each statement is planned once per connection (a generic plan, kept for the connection's
# life), not on every run: planning the append cost the server twice what running it does.
# A plan made once must suit the table at any size, and on a young database the planner
# would pick scans of the then tiny `messages`, which get slower with every message. Every
# statement here is a key lookup (the append's as `LATERAL ... LIMIT 1`, never a hash
# join), so with scans off each plan is an index probe.
SESSION_SETTINGS = {"plan_cache_mode": "force_generic_plan", "enable_seqscan": "off"}

# Failures that say nothing about our statement and everything about the link to the
# server: refused or reset connections, silence past a timeout, a server shutting down
# (57P01), refusing connections while starting (57P03) or out of connection slots (53300).
_CONNECTION_FAILURES: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
)


class Conflict(Exception):
    """A unique or foreign key constraint refused a write; `constraint` is its name."""

    def __init__(self, constraint: str | None) -> None:
        super().__init__(f"constraint {constraint!r} refused the write")
        self.constraint = constraint


def server_address(url: str) -> str:
    """`host:port` of a `postgresql://` URL, for messages; never the user or password.

    Raises:
        ValueError: the port is not a number.
    """
    parts = urlsplit(url)
    hosts = parse_qs(parts.query).get("host")
    host = parts.hostname or (hosts[0] if hosts else "localhost")
    return f"{host}:{parts.port or 5432}"


def describe(error: BaseException, connect_timeout: float) -> str:
    """What went wrong, in a few lowercase words fit to end a sentence with."""
    if isinstance(error, TimeoutError):
        return f"no answer within {connect_timeout:g} seconds"
    if isinstance(error, socket.gaierror):
        return str(error.strerror).lower()  # "name or service not known"
    if isinstance(error, OSError) and error.errno is not None:
        return os.strerror(error.errno).lower()  # "connection refused", not the tuple
    return str(error).rstrip(".") or type(error).__name__


def _lost(error: BaseException) -> ChatError:
    failure = ChatError(ErrorCode.UNAVAILABLE)
    failure.__cause__ = error
    return failure


def _internal(error: BaseException) -> ChatError:
    log.error("PostgreSQL failed: %s", error, exc_info=error)
    failure = ChatError(ErrorCode.INTERNAL, "The database failed; the failure was logged.")
    failure.__cause__ = error
    return failure


async def _keep_session(_connection: object) -> None:
    """Release a connection without asyncpg's reset query: saves a round trip per request.

    The stores leave no session state behind: no SET, no LISTEN, no session-level locks
    (migrations take a transaction-level one), and asyncpg still rolls back an open
    transaction itself.
    """


class PgConnection:
    """One connection of the pool, lent for one request; see the module docstring."""

    __slots__ = ("_pool", "_raw", "depth")

    def __init__(self, raw: Any, pool: PgPool) -> None:
        self._raw = raw
        self._pool = pool
        self.depth = 0
        """Transactions and savepoints open on this connection (see `transaction`)."""

    async def fetch(self, sql: str, *args: object) -> list[Row]:
        try:
            rows = await self._raw.fetch(sql, *args)
        except Exception as error:
            raise self.failure(error) from error
        self._pool.answered()
        return cast(list[Row], rows)

    async def fetchrow(self, sql: str, *args: object) -> Row | None:
        try:
            row = await self._raw.fetchrow(sql, *args)
        except Exception as error:
            raise self.failure(error) from error
        self._pool.answered()
        return cast(Row | None, row)

    async def fetchval(self, sql: str, *args: object) -> Any:
        try:
            value = await self._raw.fetchval(sql, *args)
        except Exception as error:
            raise self.failure(error) from error
        self._pool.answered()
        return value

    async def execute(self, sql: str, *args: object, within: float | None = None) -> str:
        """Run `sql`; `within` seconds replace the command timeout for it (migrations)."""
        try:
            status = await self._raw.execute(sql, *args, timeout=within)
        except Exception as error:
            raise self.failure(error) from error
        self._pool.answered()
        return cast(str, status)

    def transaction(self) -> AbstractAsyncContextManager[None]:
        """`async with connection.transaction():` commits at the end, rolls back on error.

        Inside another transaction it is a savepoint: an error undoes only what ran in it.
        """
        return _Transaction(self)

    def atomic(self) -> AbstractAsyncContextManager[None]:
        """What runs in it is undone if it raises, and leaves the transaction usable.

        A savepoint inside a transaction (where a failed statement would otherwise spoil
        everything after it); outside one, nothing: every statement is atomic by itself.
        Every statement whose failure is caught and survived must run in one.
        """
        if self.depth:
            return _Transaction(self)
        return contextlib.nullcontext()

    def failure(self, error: Exception) -> Exception:
        """Our exception for a driver's `error` on this connection (see the module doc)."""
        if isinstance(error, asyncpg.IntegrityConstraintViolationError):
            self._pool.answered()
            return Conflict(error.constraint_name)
        if isinstance(error, _CONNECTION_FAILURES) or self._gone():
            # Whatever state the connection is in, it is not to be used again.
            with contextlib.suppress(asyncpg.InterfaceError):  # asyncpg dropped it already
                self._raw.terminate()
            return self._pool.lost(error)
        return _internal(error)

    def _gone(self) -> bool:
        try:
            return bool(self._raw.is_closed())
        except asyncpg.InterfaceError:  # a lost connection leaves the pool by itself
            return True


class _Transaction:
    """BEGIN ... COMMIT, or a savepoint inside one; failures translated like statements'.

    Our own rather than asyncpg's, to read COMMIT's answer: PostgreSQL answers a COMMIT
    of a transaction that a failed statement spoiled with ROLLBACK, and no error.
    """

    def __init__(self, connection: PgConnection) -> None:
        self._connection = connection
        self._name = ""

    async def __aenter__(self) -> None:
        connection = self._connection
        if connection.depth:
            self._name = f"s{connection.depth}"
            await connection.execute(f"SAVEPOINT {self._name}")
        else:
            await connection.execute("BEGIN")
        connection.depth += 1

    async def __aexit__(self, *exc_info: Any) -> None:
        connection = self._connection
        connection.depth -= 1
        if exc_info[1] is not None:
            undo = f"ROLLBACK TO {self._name}; RELEASE {self._name}" if self._name else "ROLLBACK"
            with contextlib.suppress(ChatError):  # the first failure is the one to tell
                await connection.execute(undo)
            return
        if self._name:
            await connection.execute(f"RELEASE {self._name}")
            return
        if await connection.execute("COMMIT") != "COMMIT":
            raise ChatError(ErrorCode.INTERNAL, "The database undid the transaction.")


class PgPool:
    """A pool of connections to one database; open with `PgPool.open(url)`."""

    def __init__(self, raw: Any, *, size: int, connect_timeout: float) -> None:
        self._raw = raw
        self._connect_timeout = connect_timeout
        self._healthy = True
        self._closed = False
        # Our own queue for the pool's connections, in front of asyncpg's: a request waits
        # here as long as the load makes it (queueing is not a failure of the server),
        # and when the server is found gone every waiting request answers `unavailable`
        # at once instead of taking its turn to time out.
        self._free = size
        self._waiting: deque[asyncio.Future[None]] = deque()

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        size: int = POOL_SIZE,
        connect_timeout: float = CONNECT_TIMEOUT,
        command_timeout: float = COMMAND_TIMEOUT,
    ) -> PgPool:
        """Connect to `url`: one connection now, to know the server is there, more on demand.

        Raises:
            ChatError: `unavailable`, its message naming the server and the reason, when
                the server cannot be reached or refuses us (no such database or role).
        """
        raw = None
        try:
            # min_size=0: no connection kept open for its own sake, so no background task
            # that reconnects (and logs a traceback per attempt) while the server is away;
            # the next request reconnects instead.
            raw = await asyncpg.create_pool(
                url,
                min_size=0,
                max_size=size,
                timeout=connect_timeout,
                command_timeout=command_timeout,
                reset=_keep_session,
                server_settings=dict(SESSION_SETTINGS),
            )
            probe = await raw.acquire(timeout=connect_timeout)
            await raw.release(probe)
        except (Exception, TimeoutError) as error:
            if raw is not None:
                raw.terminate()
            reason = describe(error, connect_timeout)
            failure = ChatError(
                ErrorCode.UNAVAILABLE,
                f"Cannot reach PostgreSQL at {server_address(url)}: {reason}.",
            )
            raise failure from error
        return cls(raw, size=size, connect_timeout=connect_timeout)

    def healthy(self) -> bool:
        """Whether the server answered the last request; no I/O."""
        return self._healthy and not self._closed

    def answered(self) -> None:
        self._healthy = True

    def lost(self, error: BaseException) -> ChatError:
        """Record that the server went away (`error` says how); the `unavailable` to raise."""
        if self._healthy:
            log.warning("PostgreSQL cannot be reached (%s); requests answer 'unavailable'.", error)
        self._healthy = False
        failure = _lost(error)
        waiting, self._waiting = self._waiting, deque()
        for turn in waiting:
            if not turn.done():
                turn.set_exception(failure)
        return failure

    async def run(self, work: Callable[[PgConnection], Awaitable[T]]) -> T:
        """Lend `work` a connection and return what it returns.

        Raises:
            ChatError: what `work` raised, `unavailable` if no connection could be had
                or it broke, `internal` for a `Conflict` that `work` did not handle.
        """
        if self._closed:
            raise ChatError(ErrorCode.INTERNAL, "The storage is closed.")
        await self._take_turn()
        try:
            try:
                # A connection is free (we hold a turn); opening one, if it must, is
                # bounded by the connect timeout.
                raw = await self._raw.acquire()
            except Exception as error:
                if isinstance(error, (*_CONNECTION_FAILURES, asyncpg.InterfaceError)):
                    raise self.lost(error) from error
                raise _internal(error) from error
            try:
                return await work(PgConnection(raw, self))
            except Conflict as conflict:
                raise _internal(conflict) from conflict
            finally:
                await self._release(raw)
        finally:
            self._end_turn()

    async def _take_turn(self) -> None:
        if self._free > 0:
            self._free -= 1
            return
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(turn)
        try:
            await turn
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled() and turn.exception() is None:
                self._end_turn()  # handed a turn just as we were cancelled: pass it on
            raise

    def _end_turn(self) -> None:
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the turn goes straight to the next in line
                return
        self._free += 1

    async def _release(self, raw: Any) -> None:
        try:
            await self._raw.release(raw, timeout=self._connect_timeout)
        except Exception as error:  # the pool terminated it already; nothing to hand back
            log.debug("A connection could not go back to the pool: %s", error)

    async def close(self) -> None:
        """Close every connection, waiting a few seconds at most for them to finish."""
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.wait_for(self._raw.close(), timeout=self._connect_timeout)
        except (Exception, TimeoutError):
            self._raw.terminate()
