"""How fast SqliteStorage and PostgresStorage store messages into one room, as the server
would drive them.

    .venv/bin/python benchmarks/store_throughput.py           # both backends, about 70 s
    .venv/bin/python benchmarks/store_throughput.py --quick   # 2 s and 2,000: a smoke run
    .venv/bin/python benchmarks/store_throughput.py --backend postgres

Each append is its own task, as each `send-message` is on the server. Phase 1 offers
appends at a fixed rate and measures each one's latency from the moment it was *due*
(not when the pacer got round to it, so a stall is not hidden). Phase 2 creates all its
tasks at once and measures how many appends per second the store absorbs. Phase 3 repeats
phase 1 while another task keeps the event loop busy half the time, as a loaded server's
would be. PostgreSQL runs on the machine's server (`--postgres-url`, a database it may
create databases from) in a database created for the run and dropped after; the CPU time
of the server processes serving that database is read from /proc. Writes
benchmarks/results/store-throughput.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

from rtchat.domain.models import MessageDraft, Room, User
from rtchat.ports import MessageStore, RoomStore, UserStore
from rtchat.storage import PostgresStorage, SqliteStorage
from rtchat.storage.postgres_pool import COMMAND_TIMEOUT, CONNECT_TIMEOUT, POOL_SIZE

RESULTS = Path(__file__).resolve().parent / "results" / "store-throughput.md"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
ROOM = "general"
AUTHOR = User(id="bench-user", username="bench")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


class BenchStorage(Protocol):
    messages: MessageStore
    users: UserStore
    rooms: RoomStore

    @property
    def batches(self) -> int: ...

    async def close(self) -> None: ...


class ServerCpu(Protocol):
    async def seconds(self) -> dict[int, float]:
        """CPU seconds used so far by each server process of the store, by pid."""
        ...


@dataclass(frozen=True)
class Phase:
    name: str
    appends: int
    seconds: float
    latencies_ms: list[float]
    commits: int
    cpu_seconds: float | None  # the whole process's; None when another task burns CPU too
    server_cpu_seconds: float | None  # the database server's processes, where there are any

    @property
    def rate(self) -> float:
        return self.appends / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


@dataclass(frozen=True)
class Run:
    backend: str
    database: str
    phases: list[Phase]


def _draft(n: int) -> MessageDraft:
    return MessageDraft(
        id=f"m{n}",
        room=ROOM,
        author=AUTHOR,
        text=f"message number {n}, about as long as a chat line usually is",
        timestamp=datetime.now(UTC),
        client_id=f"c{n}",  # the server passes one, so the idempotency lookup is measured too
    )


async def _timed_append(storage: BenchStorage, n: int, due: float, out: list[float]) -> None:
    await storage.messages.append(_draft(n))
    out.append((time.perf_counter() - due) * 1000)


async def _keep_busy(share: float, stop: asyncio.Event) -> None:
    period = 0.004
    while not stop.is_set():
        until = time.perf_counter() + period * share
        while time.perf_counter() < until:
            pass  # pure Python work holding the GIL, like encoding and routing events
        await asyncio.sleep(period * (1 - share))


async def _server_used(cpu: ServerCpu | None, before: dict[int, float]) -> float | None:
    if cpu is None:
        return None
    after = await cpu.seconds()
    # A process that started during the phase counts from zero.
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


async def paced(
    storage: BenchStorage,
    cpu: ServerCpu | None,
    first: int,
    rate: float,
    seconds: float,
    busy: float = 0.0,
) -> Phase:
    total = int(rate * seconds)
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    burner = asyncio.create_task(_keep_busy(busy, stop)) if busy else None
    commits = storage.batches
    server_before = {} if cpu is None else await cpu.seconds()
    own = time.process_time()
    start = time.perf_counter()
    sent = 0
    while sent < total:
        now = time.perf_counter()
        due_count = min(total, int((now - start) * rate) + 1)
        while sent < due_count:
            due = start + sent / rate
            tasks.append(asyncio.create_task(_timed_append(storage, first + sent, due, latencies)))
            sent += 1
        # Sleep until the next append is due. Never spin: a busy loop keeps the GIL from
        # the SQLite writer thread, which then waits a switch interval (5 ms) for every call.
        await asyncio.sleep(max(start + sent / rate - time.perf_counter(), 0.001))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    used = None if busy else time.process_time() - own
    stop.set()
    if burner is not None:
        await burner
    server = await _server_used(cpu, server_before)
    name = f"paced {rate:,.0f}/s" + (f", loop {busy:.0%} busy" if busy else "")
    return Phase(name, total, elapsed, latencies, storage.batches - commits, used, server)


async def flat_out(storage: BenchStorage, cpu: ServerCpu | None, first: int, count: int) -> Phase:
    latencies: list[float] = []
    commits = storage.batches
    server_before = {} if cpu is None else await cpu.seconds()
    own = time.process_time()
    start = time.perf_counter()
    coroutines: list[Coroutine[Any, Any, None]] = [
        _timed_append(storage, first + i, start, latencies) for i in range(count)
    ]
    await asyncio.gather(*coroutines)
    elapsed = time.perf_counter() - start
    used = time.process_time() - own
    server = await _server_used(cpu, server_before)
    name = f"{count:,} at once"
    return Phase(name, count, elapsed, latencies, storage.batches - commits, used, server)


async def measure(
    storage: BenchStorage,
    cpu: ServerCpu | None,
    rate: float,
    seconds: float,
    burst: int,
    busy: float,
) -> list[Phase]:
    await storage.users.create(AUTHOR, token_hash="bench")
    await storage.rooms.create(Room(name=ROOM), (AUTHOR.id,))
    first = await paced(storage, cpu, 1, rate, seconds)
    second = await flat_out(storage, cpu, first.appends + 1, burst)
    done = first.appends + second.appends
    third = await paced(storage, cpu, done + 1, rate, seconds / 2, busy)
    done += third.appends
    stored = await storage.messages.last_seq(ROOM)
    if stored != done:
        raise SystemExit(f"Expected {done} messages, got {stored}")
    return [first, second, third]


async def measure_sqlite(rate: float, seconds: float, burst: int, busy: float) -> Run:
    with tempfile.TemporaryDirectory(prefix="rtchat-bench-") as folder:
        storage = await SqliteStorage.open(Path(folder) / "bench.db")
        try:
            phases = await measure(storage, None, rate, seconds, burst, busy)
        finally:
            await storage.close()
    return Run(
        "SqliteStorage",
        f"SQLite {sqlite3.sqlite_version}, temp file, WAL, `synchronous=NORMAL`",
        phases,
    )


class PostgresBackends:
    """The server processes serving one database, found through `pg_stat_activity`."""

    def __init__(self, admin: asyncpg.Connection, database: str) -> None:
        self._admin = admin
        self._database = database

    async def seconds(self) -> dict[int, float]:
        rows = await self._admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", self._database
        )
        used: dict[int, float] = {}
        for row in rows:
            with contextlib.suppress(OSError):  # ended since: its last figure is lost
                used[row[0]] = process_cpu(row[0])
        return used


def process_cpu(pid: int) -> float:
    """User plus system CPU seconds of process `pid` so far (a read of /proc, no I/O wait)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


@contextlib.asynccontextmanager
async def bench_database(server_url: str) -> AsyncIterator[tuple[str, str, asyncpg.Connection]]:
    """A fresh database (name, URL) and an admin connection outside it, dropped after."""
    name = f"rtchat_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            yield name, urlunsplit(urlsplit(server_url)._replace(path=f"/{name}")), admin
        finally:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def measure_postgres(
    server_url: str, rate: float, seconds: float, burst: int, busy: float
) -> Run:
    async with bench_database(server_url) as (name, url, admin):
        version = await admin.fetchval("SHOW server_version")
        commit = await admin.fetchval("SHOW synchronous_commit")
        storage = await PostgresStorage.open(url)
        try:
            phases = await measure(
                storage, PostgresBackends(admin, name), rate, seconds, burst, busy
            )
        finally:
            await storage.close()
    where = urlsplit(server_url)
    return Run(
        "PostgresStorage",
        f"PostgreSQL {version} at {where.hostname}:{where.port or 5432} (same machine), "
        f"fresh database, `synchronous_commit={commit}`, pool of {POOL_SIZE}, "
        f"timeouts {CONNECT_TIMEOUT:g} s connect / {COMMAND_TIMEOUT:g} s command",
        phases,
    )


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _micros(seconds: float | None, appends: int) -> str:
    return "-" if seconds is None else f"{seconds / appends * 1e6:.0f}"


_HEADER = (
    "| Phase | Appends | Seconds | Appends/s | p50 ms | p99 ms | max ms | Commits | Per commit"
    " | CPU µs | Server CPU µs |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def table(run: Run) -> str:
    rows = "\n".join(
        f"| {p.name} | {p.appends:,} | {p.seconds:.2f} | {p.rate:,.0f} | "
        f"{statistics.median(p.latencies_ms):.2f} | {p.percentile(99):.2f} | "
        f"{max(p.latencies_ms):.2f} | {p.commits:,} | {p.appends / max(p.commits, 1):.1f} | "
        f"{_micros(p.cpu_seconds, p.appends)} | {_micros(p.server_cpu_seconds, p.appends)} |"
        for p in run.phases
    )
    return f"""## {run.backend}

{run.database}.

{_HEADER}
{rows}
"""


def report(runs: list[Run], loop_name: str, load: tuple[float, float]) -> str:
    tables = "\n".join(table(run) for run in runs)
    return f"""# Storage append throughput

Measured by `benchmarks/store_throughput.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.

| | |
|---|---|
| CPU | {cpu_model()} |
| Cores | {os.cpu_count()} |
| OS | {platform.system()} {platform.release()} |
| Python | {platform.python_version()} ({platform.python_implementation()}) |
| Event loop | {loop_name} |
| Load average (1 min) | {load[0]:.2f} before, {load[1]:.2f} after |

One room, one author, each append its own task with a client id. Latency runs from the
moment an append was due (paced) or from the start of the burst (at once) until its
future resolved, i.e. after its transaction committed. "Commits" counts transactions
(SQLite) or write batches, one statement each (PostgreSQL); "Per commit" is appends per
one of them. "CPU µs" is this process's CPU time (event loop, and SQLite's writer thread)
per append: unlike latency, it hardly moves when other programs share the machine.
"Server CPU µs" is the CPU time of the PostgreSQL backends serving the run's database
(from /proc/<pid>/stat), per append; the server's WAL writer and checkpointer are not in it.

{tables}
Group commit at work: under load the writer takes everything that is waiting and stores
it together, so commits stay far below appends. In the burst, latency is time in the
queue: the last task waits for all those before it. With the loop kept busy, each SQLite
call the writer thread makes may wait for the loop to let go of the GIL (up to the 5 ms
switch interval); the PostgreSQL writer runs on the loop itself and waits for it instead.
Latency tails also grow with the load average above: other programs share the two cores.
"""


async def _runs(args: argparse.Namespace) -> list[Run]:
    runs = []
    if args.backend in ("sqlite", "all"):
        runs.append(await measure_sqlite(args.rate, args.seconds, args.burst, args.busy))
    if args.backend in ("postgres", "all"):
        runs.append(
            await measure_postgres(
                args.postgres_url, args.rate, args.seconds, args.burst, args.busy
            )
        )
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="paced appends per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced phase")
    parser.add_argument("--burst", type=int, default=20_000, help="appends in the flat-out phase")
    parser.add_argument("--busy", type=float, default=0.5, help="loop share kept busy, phase 3")
    parser.add_argument("--quick", action="store_true", help="2 s paced, 2,000 at once")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "all"], default="all")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="server to create a db on")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.burst = 2.0, 2_000

    load_before = os.getloadavg()[0]
    work = _runs(args)
    if args.loop == "uvloop":
        import uvloop  # the loop the server runs on

        runs = uvloop.run(work)
    else:
        runs = asyncio.run(work)

    text = report(runs, args.loop, (load_before, os.getloadavg()[0]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
