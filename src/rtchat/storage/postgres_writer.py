"""One queue per process that runs every write to PostgreSQL in order, appends in groups.

The sibling of `sqlite_thread`, on the event loop instead of a thread: callers queue a
request and await a future; one task takes everything waiting, runs it on one connection
and resolves the futures together. Consecutive requests for the same bulk handler go to
it as one list, so a burst of 1,000 appends costs one statement instead of 1,000: appends
that arrive while a batch is running wait and go together in the next one. A batch with
several writes is one transaction, each write under a savepoint: one commit for all.

Writes run in the order they were made, as on the other backends: a room created and a
message appended without awaiting in between still find each other. A read made while
nothing is queued goes straight to the pool; one made behind queued writes joins the
queue and runs once the writes of its batch are committed (all the batch's reads
concurrently, on the pool), so a caller reads what it wrote. Across processes, ordering
and numbering are the database's job (row locks and unique constraints, see
`postgres_messages`).

A batch's answers are given together: its writes' after their commit, its reads' when
the last of them is in. A burst of joins gets its answers in a few loop turns, as from
SQLite's thread, and what they send next is written to the sockets together (a
broadcast per answer, one turn each, cost twice the CPU per delivery).

When the server goes away mid-batch, the request that hit the failure and every one after
it in that batch answer `unavailable` at once rather than each waiting out its own
timeout; the next batch tries the server again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.storage.postgres_pool import Conflict, PgConnection, PgPool

T = TypeVar("T")
P = TypeVar("P")
Job = Callable[[PgConnection], Awaitable[T]]
Bulk = Callable[[PgConnection, list[P]], Awaitable[list[T | ChatError]]]
"""Stores many payloads at once and returns one result per payload, or the `ChatError` of
one that failed without writing anything. Raising fails the group, which is then retried
one payload at a time so that only the bad one fails (`unavailable` fails the batch)."""

log = logging.getLogger(__name__)

MAX_BATCH = 2000
"""Requests per batch at most, so one statement never holds back replies for long."""


@dataclass(slots=True)
class _Request:
    job: Callable[[PgConnection], Awaitable[Any]] | None
    bulk: Callable[[PgConnection, list[Any]], Awaitable[list[Any]]] | None
    payload: Any
    writes: bool
    future: asyncio.Future[Any]
    answered: bool = False

    def answer(self, ok: bool, value: Any) -> None:
        self.answered = True
        if self.future.done():  # the caller was cancelled; the write ran all the same
            return
        if ok:
            self.future.set_result(value)
        else:
            self.future.set_exception(value)


class PgWriter:
    """Runs requests in order, appends in groups; see the module docstring."""

    def __init__(self, pool: PgPool, *, max_batch: int = MAX_BATCH) -> None:
        self._pool = pool
        self._max_batch = max_batch
        self._queue: deque[_Request] = deque()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.batches = 0
        """Batches run so far; the benchmark reports appends per batch from it."""

    async def run(self, job: Job[T]) -> T:
        """Run `job(connection)` after every write queued before it; return its result.

        A caller cancelled while waiting does not cancel the job: it may have run already.
        """
        return cast(T, await self._submit(job, None, None, writes=True))

    async def run_bulk(self, handler: Bulk[P, T], payload: P) -> T:
        """Run `handler` on `payload`, together with the others queued for it; see `Bulk`."""
        return cast(T, await self._submit(None, handler, payload, writes=True))

    async def read(self, job: Job[T]) -> T:
        """Run `job`, which only reads, after the writes queued before it; see the module."""
        if self._task is None:
            return await self._pool.run(job)
        return cast(T, await self._submit(job, None, None, writes=False))

    async def close(self) -> None:
        """Run every queued write, then refuse new ones."""
        self._closed = True
        if self._task is not None:
            await asyncio.shield(self._task)

    def _submit(
        self,
        job: Callable[[PgConnection], Awaitable[Any]] | None,
        bulk: Callable[[PgConnection, list[Any]], Awaitable[list[Any]]] | None,
        payload: Any,
        *,
        writes: bool,
    ) -> asyncio.Future[Any]:
        if self._closed:
            raise ChatError(ErrorCode.INTERNAL, "The storage is closed.")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Request(job, bulk, payload, writes, future))
        if self._task is None:
            # Starts on the next loop turn: whatever else is queued by then goes along.
            self._task = loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self._queue:
                count = min(len(self._queue), self._max_batch)
                batch = [self._queue.popleft() for _ in range(count)]
                try:
                    await self._run_batch(batch)
                except ChatError as error:  # no connection, or it broke: fail what is left
                    _answer_rest(batch, error)
                except Exception:
                    log.exception("The PostgreSQL writer failed; it goes on with the next batch.")
                    _answer_rest(batch, _crashed())
                except BaseException:  # cancelled: nobody must be left waiting
                    _answer_rest(batch, _crashed())
                    raise
                finally:
                    self.batches += 1
        finally:
            self._task = None

    async def _run_batch(self, batch: list[_Request]) -> None:
        writes = [request for request in batch if request.writes]
        reads = [request for request in batch if not request.writes]
        if writes:
            outcomes: list[_Outcome] = []
            await self._pool.run(functools.partial(_store, steps=_steps(writes), outcomes=outcomes))
            # Only now, committed: what a caller is told is stored, is.
            for request, ok, value in outcomes:
                request.answer(ok, value)
        if reads:
            # After the writes, so they see them (and perhaps writes queued after them,
            # which a read made at the same time may see): concurrently, on the pool.
            results = await asyncio.gather(
                *(self._pool.run(cast(Job[Any], request.job)) for request in reads),
                return_exceptions=True,
            )
            for request, result in zip(reads, results, strict=True):
                if isinstance(result, BaseException) and not isinstance(result, Exception):
                    raise result  # cancelled
                request.answer(not isinstance(result, Exception), result)


async def _store(connection: PgConnection, steps: list[_Step], outcomes: list[_Outcome]) -> None:
    if len(steps) == 1:
        # One statement (a job, or the appends as one) is atomic by itself: no BEGIN and
        # COMMIT round trips.
        await _run_step(connection, steps[0], outcomes)
        return
    # One commit for the lot instead of one each, every step under a savepoint so that
    # a failing one undoes only itself.
    async with connection.transaction():
        for step in steps:
            await _run_step(connection, step, outcomes)


_Outcome = tuple[_Request, bool, Any]
_Step = tuple[Callable[[PgConnection, list[Any]], Awaitable[list[Any]]] | None, list[_Request]]


def _steps(batch: list[_Request]) -> list[_Step]:
    """Each job alone, and each run of consecutive requests for one bulk handler together:
    writes still take effect in the order they came."""
    steps: list[_Step] = []
    for request in batch:
        if request.bulk is not None and steps and steps[-1][0] == request.bulk:
            steps[-1][1].append(request)
        else:
            steps.append((request.bulk, [request]))
    return steps


async def _run_step(connection: PgConnection, step: _Step, outcomes: list[_Outcome]) -> None:
    handler, requests = step
    if handler is None:
        await _run_job(connection, requests[0], outcomes)
    else:
        await _run_group(connection, handler, requests, outcomes)


def _answer_rest(batch: list[_Request], error: Exception) -> None:
    for request in batch:
        if not request.answered:
            request.answer(False, error)


def _crashed() -> ChatError:
    return ChatError(ErrorCode.INTERNAL, "The storage failed; the failure was logged.")


def _unavailable(error: ChatError) -> bool:
    return error.code is ErrorCode.UNAVAILABLE


async def _run_job(connection: PgConnection, request: _Request, outcomes: list[_Outcome]) -> None:
    assert request.job is not None
    try:
        async with connection.atomic():
            value = await request.job(connection)
    except ChatError as error:
        if _unavailable(error):
            raise  # the batch's remaining requests fail with it, unattempted
        outcomes.append((request, False, error))
    except Conflict as conflict:
        outcomes.append((request, False, _unexpected(conflict)))
    except Exception as error:
        outcomes.append((request, False, error))
    else:
        outcomes.append((request, True, value))


async def _run_group(
    connection: PgConnection,
    handler: Callable[[PgConnection, list[Any]], Awaitable[list[Any]]],
    group: list[_Request],
    outcomes: list[_Outcome],
) -> None:
    try:
        async with connection.atomic():
            values = await handler(connection, [request.payload for request in group])
            if len(values) != len(group):
                raise RuntimeError(f"A bulk handler answered {len(values)} of {len(group)}.")
    except ChatError as error:
        if _unavailable(error):
            raise
        failure: Exception = error
    except Conflict as conflict:
        failure = _unexpected(conflict)
    except Exception as error:
        failure = error
    else:
        for request, value in zip(group, values, strict=True):
            outcomes.append((request, not isinstance(value, ChatError), value))
        return
    if len(group) == 1:
        outcomes.append((group[0], False, failure))
        return
    # Something in the group is bad: find it by going one by one.
    for request in group:
        await _run_group(connection, handler, [request], outcomes)


def _unexpected(conflict: Conflict) -> ChatError:
    log.error("PostgreSQL refused a write: %s", conflict)
    error = ChatError(ErrorCode.INTERNAL, "The database refused the write; it was logged.")
    error.__cause__ = conflict
    return error
