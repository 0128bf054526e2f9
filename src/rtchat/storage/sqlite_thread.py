"""One thread that owns a SQLite connection and runs every job in group-committed batches.

Callers on the event loop submit a job (a function of the connection) and await a future.
The thread takes every job waiting in its queue and runs them all in ONE transaction,
each writing job under its own savepoint, then commits once and resolves the futures.
So a burst of 1,000 appends costs one commit instead of 1,000, and because only this
thread ever writes, "read the counter, bump it, insert" needs no locking.

Bulk jobs go further: consecutive requests for the same bulk handler are handed to it as
one list, so N appends cost a handful of statements, not 7 N. That matters beyond SQLite's
own cost: every statement releases and retakes the GIL, and when the event loop is busy
each retake can wait a whole switch interval (5 ms). Fewer statements, fewer waits.

A future resolves only after the commit: what a caller was told is stored survives the
process dying. With `synchronous=NORMAL` a power cut or OS crash may still lose the last
few commits (never corrupt the file); that trade buys one fsync per checkpoint instead
of one per commit.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.storage.sqlite_schema import migrate

T = TypeVar("T")
P = TypeVar("P")
Job = Callable[[sqlite3.Connection], T]
Bulk = Callable[[sqlite3.Connection, list[P]], list[T | ChatError]]
"""Runs many payloads at once and returns one result per payload, or the `ChatError` for
one that failed without writing anything. Raising fails the whole group, which is then
retried one payload at a time, so that only the bad one fails."""

log = logging.getLogger(__name__)

MAX_BATCH = 2000
"""Jobs per transaction at most, so one commit never holds back replies for long."""


@dataclass(slots=True)
class _Request:
    job: Callable[[sqlite3.Connection], Any] | None
    bulk: Callable[[sqlite3.Connection, list[Any]], list[Any]] | None
    payload: Any
    writes: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]


@dataclass(slots=True)
class _Outcome:
    request: _Request
    ok: bool
    value: Any


class _Stop:
    """Queued by `close`: the thread finishes the jobs before it, then closes the file."""


def _driver_error(exc: sqlite3.Error, *, logged: bool = True) -> ChatError:
    # Expected conflicts are turned into their own codes by the jobs; anything that still
    # reaches here is a fault of ours or of the disk, so it is logged and called internal.
    message = "The database failed; the failure was logged."
    if logged:
        log.error("SQLite failed: %s", exc, exc_info=exc)
    else:
        message = f"The database failed: {exc}."
    error = ChatError(ErrorCode.INTERNAL, message)
    error.__cause__ = exc
    return error


def _connect(path: Path) -> sqlite3.Connection:
    # isolation_level=None: no implicit transactions, the batch loop says BEGIN and COMMIT.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # First: another process may hold the file's lock (workers starting together).
        conn.execute("PRAGMA busy_timeout = 5000")
        conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL under WAL: a power cut may lose the last commits, never corrupt the file.
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        migrate(conn)
    except BaseException:
        conn.close()
        raise
    return conn


class SqliteThread:
    """Runs jobs against one SQLite file on a dedicated thread; see the module docstring."""

    def __init__(self, path: Path, *, max_batch: int = MAX_BATCH) -> None:
        self.path = path
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[_Request | _Stop] = queue.SimpleQueue()
        self._closed = False  # no new work: close() was called or the thread failed
        self._close_called = False
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Future[None] | None = None
        self.batches = 0
        """Transactions committed so far; the benchmark reports jobs per batch from it."""

    @property
    def closed(self) -> bool:
        """No new work is taken: `close` was called or the thread failed."""
        return self._closed

    async def start(self) -> None:
        """Open the file and migrate it on the thread; raises what opening raised."""
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._stopped = loop.create_future()
        self._thread = threading.Thread(
            target=self._main,
            args=(loop, ready, self._stopped),
            name=f"sqlite:{self.path.name}",
            daemon=True,  # a caller that never closes must not hang interpreter exit
        )
        self._thread.start()
        try:
            await ready
        except BaseException:
            self._closed = True
            await self._join()
            raise

    async def run(self, job: Job[T], *, writes: bool = True) -> T:
        """Run `job(connection)` in the next batch and return its result once committed.

        A job that raises has its writes undone; `writes=False` skips the savepoint that
        takes, for jobs that only read. A caller cancelled while waiting does not cancel
        the job: it may already be committed.
        """
        return cast(T, await self._submit(job, None, None, writes=writes))

    async def run_bulk(self, handler: Bulk[P, T], payload: P) -> T:
        """Run `handler` on `payload`, together with the others queued for it; see `Bulk`."""
        return cast(T, await self._submit(None, handler, payload, writes=True))

    async def _submit(
        self,
        job: Callable[[sqlite3.Connection], Any] | None,
        bulk: Callable[[sqlite3.Connection, list[Any]], list[Any]] | None,
        payload: Any,
        *,
        writes: bool,
    ) -> Any:
        if self._closed or self._thread is None:
            raise ChatError(ErrorCode.INTERNAL, "The storage is closed.")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        # close() sets _closed and queues _Stop on this same loop thread, so every job
        # that passed the check above is queued before _Stop and will run.
        self._queue.put(_Request(job, bulk, payload, writes, loop, future))
        return await future

    async def close(self) -> None:
        """Finish every queued job, then close the connection and end the thread."""
        if self._close_called:
            return
        self._close_called = True
        self._closed = True
        self._queue.put(_Stop())  # harmless if the thread already ended
        await self._join()

    async def _join(self) -> None:
        if self._thread is None or self._stopped is None:
            return  # never started
        await self._stopped
        # The thread has only `return` left to run; joining cannot block the loop for long.
        self._thread.join()

    # --- everything below runs on the thread ---

    def _main(
        self,
        loop: asyncio.AbstractEventLoop,
        ready: asyncio.Future[None],
        stopped: asyncio.Future[None],
    ) -> None:
        try:
            conn = _connect(self.path)
        except BaseException as exc:
            # Not logged: the caller of start() decides (open_storage makes it one line).
            error = _driver_error(exc, logged=False) if isinstance(exc, sqlite3.Error) else exc
            _call_soon(loop, _settle, ready, error)
            _call_soon(loop, _settle, stopped, None)
            return
        _call_soon(loop, _settle, ready, None)
        try:
            self._serve(conn)
        except BaseException:
            # A bug of ours, not a job's failure (those are caught per job). Refuse new
            # work and fail what is queued rather than leave callers waiting forever.
            log.exception("The SQLite thread failed; the storage is closed.")
            self._closed = True
            self._fail_queued()
        finally:
            conn.close()
            _call_soon(loop, _settle, stopped, None)

    def _fail_queued(self) -> None:
        error = _crashed()
        failed: list[_Outcome] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, _Request):
                failed.append(_Outcome(item, False, error))
        _deliver(failed)

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            first = self._queue.get()
            batch: list[_Request] = []
            stop = False
            item: _Request | _Stop = first
            while True:
                if isinstance(item, _Stop):
                    stop = True  # nothing can be queued after it, see run()
                else:
                    batch.append(item)
                if stop or len(batch) >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                try:
                    outcomes = self._run_batch(conn, batch)
                except BaseException:
                    _deliver([_Outcome(request, False, _crashed()) for request in batch])
                    raise
                _deliver(outcomes)
            if stop:
                return

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Request]) -> list[_Outcome]:
        outcomes: list[_Outcome] = []
        try:
            # IMMEDIATE takes the write lock up front, so a batch never fails half way
            # for want of it; a batch of reads only needs a consistent snapshot.
            writes = any(request.writes for request in batch)
            conn.execute("BEGIN IMMEDIATE" if writes else "BEGIN")
            start = 0
            while start < len(batch):
                handler = batch[start].bulk
                end = start + 1
                if handler is not None:
                    # Only consecutive requests: jobs still run in the order they came.
                    while end < len(batch) and batch[end].bulk == handler:
                        end += 1
                    outcomes.extend(_run_group(conn, handler, batch[start:end]))
                else:
                    outcomes.append(_run_job(conn, batch[start]))
                start = end
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # The transaction itself failed (disk full, I/O error): nothing was stored.
            if conn.in_transaction:
                conn.rollback()
            error = _driver_error(exc)
            return [_Outcome(request, False, error) for request in batch]
        self.batches += 1
        return outcomes


def _crashed() -> ChatError:
    return ChatError(ErrorCode.INTERNAL, "The storage failed; the failure was logged.")


def _failure(exc: Exception) -> Exception:
    return _driver_error(exc) if isinstance(exc, sqlite3.Error) else exc


def _run_job(conn: sqlite3.Connection, request: _Request) -> _Outcome:
    assert request.job is not None
    if not request.writes:
        try:
            return _Outcome(request, True, request.job(conn))
        except Exception as exc:
            return _Outcome(request, False, _failure(exc))
    # A savepoint per writing job: one job's failure undoes only that job's writes.
    conn.execute("SAVEPOINT job")
    try:
        value = request.job(conn)
    except Exception as exc:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return _Outcome(request, False, _failure(exc))
    conn.execute("RELEASE job")
    return _Outcome(request, True, value)


def _run_group(
    conn: sqlite3.Connection,
    handler: Callable[[sqlite3.Connection, list[Any]], list[Any]],
    group: list[_Request],
) -> list[_Outcome]:
    conn.execute("SAVEPOINT bulk")
    try:
        values = handler(conn, [request.payload for request in group])
        if len(values) != len(group):
            raise RuntimeError(f"A bulk handler answered {len(values)} of {len(group)} payloads.")
    except Exception as exc:
        failure = exc
    else:
        conn.execute("RELEASE bulk")
        return [
            _Outcome(request, not isinstance(value, ChatError), value)
            for request, value in zip(group, values, strict=True)
        ]
    conn.execute("ROLLBACK TO bulk")
    conn.execute("RELEASE bulk")
    if len(group) == 1:
        return [_Outcome(group[0], False, _failure(failure))]
    # Something in the group is bad (a duplicate id, say): find it by going one by one.
    return [outcome for request in group for outcome in _run_group(conn, handler, [request])]


def _deliver(outcomes: list[_Outcome]) -> None:
    # One wake-up per event loop per batch, not one per job.
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome.request.loop, []).append(outcome)
    for loop, items in by_loop.items():
        _call_soon(loop, _resolve_all, items)


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[..., None], *args: Any) -> None:
    try:
        loop.call_soon_threadsafe(callback, *args)
    except RuntimeError:  # the loop closed: nobody is waiting for this any more
        log.warning("An event loop closed before the storage could answer it.")


def _resolve_all(outcomes: list[_Outcome]) -> None:
    for outcome in outcomes:
        future = outcome.request.future
        if future.done():  # the caller was cancelled; the job ran and committed anyway
            continue
        if outcome.ok:
            future.set_result(outcome.value)
        else:
            future.set_exception(outcome.value)


def _settle(future: asyncio.Future[None], error: BaseException | None) -> None:
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
