"""How fast SqliteStorage stores messages into one room, as the server would drive it.

    .venv/bin/python benchmarks/store_throughput.py           # the full run, about 30 s
    .venv/bin/python benchmarks/store_throughput.py --quick   # 2 s and 2,000: a smoke run

Each append is its own task, as each `send-message` is on the server. Phase 1 offers
appends at a fixed rate and measures each one's latency from the moment it was *due*
(not when the pacer got round to it, so a stall is not hidden). Phase 2 creates all its
tasks at once and measures how many appends per second the store absorbs. Phase 3 repeats
phase 1 while another task keeps the event loop busy half the time, as a loaded server's
would be: the writer thread then competes with the loop for the GIL. Writes
benchmarks/results/store-throughput.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rtchat.domain.models import MessageDraft, Room, User
from rtchat.storage import SqliteStorage

RESULTS = Path(__file__).resolve().parent / "results" / "store-throughput.md"
ROOM = "general"
AUTHOR = User(id="bench-user", username="bench")


@dataclass(frozen=True)
class Phase:
    name: str
    appends: int
    seconds: float
    latencies_ms: list[float]
    commits: int
    cpu_seconds: float | None  # the whole process's; None when another task burns CPU too

    @property
    def rate(self) -> float:
        return self.appends / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def _draft(n: int) -> MessageDraft:
    return MessageDraft(
        id=f"m{n}",
        room=ROOM,
        author=AUTHOR,
        text=f"message number {n}, about as long as a chat line usually is",
        timestamp=datetime.now(UTC),
        client_id=f"c{n}",  # the server passes one, so the idempotency lookup is measured too
    )


async def _timed_append(storage: SqliteStorage, n: int, due: float, out: list[float]) -> None:
    await storage.messages.append(_draft(n))
    out.append((time.perf_counter() - due) * 1000)


async def _keep_busy(share: float, stop: asyncio.Event) -> None:
    period = 0.004
    while not stop.is_set():
        until = time.perf_counter() + period * share
        while time.perf_counter() < until:
            pass  # pure Python work holding the GIL, like encoding and routing events
        await asyncio.sleep(period * (1 - share))


async def paced(
    storage: SqliteStorage, first: int, rate: float, seconds: float, busy: float = 0.0
) -> Phase:
    total = int(rate * seconds)
    latencies: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    stop = asyncio.Event()
    burner = asyncio.create_task(_keep_busy(busy, stop)) if busy else None
    commits = storage.batches
    cpu = time.process_time()
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
        # the writer thread, which then waits a switch interval (5 ms) for every call.
        await asyncio.sleep(max(start + sent / rate - time.perf_counter(), 0.001))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    stop.set()
    if burner is not None:
        await burner
    name = f"paced {rate:,.0f}/s" + (f", loop {busy:.0%} busy" if busy else "")
    used = None if busy else time.process_time() - cpu
    return Phase(name, total, elapsed, latencies, storage.batches - commits, used)


async def flat_out(storage: SqliteStorage, first: int, count: int) -> Phase:
    latencies: list[float] = []
    commits = storage.batches
    cpu = time.process_time()
    start = time.perf_counter()
    coroutines: list[Coroutine[Any, Any, None]] = [
        _timed_append(storage, first + i, start, latencies) for i in range(count)
    ]
    await asyncio.gather(*coroutines)
    elapsed = time.perf_counter() - start
    used = time.process_time() - cpu
    return Phase(f"{count:,} at once", count, elapsed, latencies, storage.batches - commits, used)


async def measure(rate: float, seconds: float, burst: int, busy: float) -> list[Phase]:
    with tempfile.TemporaryDirectory(prefix="rtchat-bench-") as folder:
        storage = await SqliteStorage.open(Path(folder) / "bench.db")
        try:
            await storage.users.create(AUTHOR, token_hash="bench")
            await storage.rooms.create(Room(name=ROOM), (AUTHOR.id,))
            first = await paced(storage, 1, rate, seconds)
            second = await flat_out(storage, first.appends + 1, burst)
            done = first.appends + second.appends
            third = await paced(storage, done + 1, rate, seconds / 2, busy)
            done += third.appends
            stored = await storage.messages.last_seq(ROOM)
            if stored != done:
                raise SystemExit(f"Expected {done} messages, got {stored}")
        finally:
            await storage.close()
    return [first, second, third]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def report(phases: list[Phase], loop_name: str, load: tuple[float, float]) -> str:
    rows = "\n".join(
        f"| {p.name} | {p.appends:,} | {p.seconds:.2f} | {p.rate:,.0f} | "
        f"{statistics.median(p.latencies_ms):.2f} | {p.percentile(99):.2f} | "
        f"{max(p.latencies_ms):.2f} | {p.commits:,} | {p.appends / max(p.commits, 1):.1f} | "
        + ("-" if p.cpu_seconds is None else f"{p.cpu_seconds / p.appends * 1e6:.0f}")
        + " |"
        for p in phases
    )
    return f"""# SqliteStorage append throughput

Measured by `benchmarks/store_throughput.py` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.

| | |
|---|---|
| CPU | {cpu_model()} |
| Cores | {os.cpu_count()} |
| OS | {platform.system()} {platform.release()} |
| Python | {platform.python_version()} ({platform.python_implementation()}) |
| SQLite | {sqlite3.sqlite_version} |
| Event loop | {loop_name} |
| Load average (1 min) | {load[0]:.2f} before, {load[1]:.2f} after |
| Database | temp file, WAL, `synchronous=NORMAL` |

One room, one author, each append its own task with a client id. Latency runs from the
moment an append was due (paced) or from the start of the burst (at once) until its
future resolved, i.e. after its transaction committed. "Per commit" is appends per
transaction. "CPU µs" is the process's CPU time (event loop and writer thread) per append:
unlike latency, it hardly moves when other programs share the machine.

| Phase | Appends | Seconds | Appends/s | p50 ms | p99 ms | max ms | Commits | Per commit | CPU µs |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
{rows}

Group commit at work: under load the writer thread takes everything that is waiting and
commits it in one transaction, so commits stay far below appends. In the burst, latency
is time in the queue: the last task waits for all those before it. With the loop kept
busy, each SQLite call the writer makes may wait for the loop to let go of the GIL (up to
the 5 ms switch interval), which is why the writer stores a whole batch of appends with a
handful of statements: the wait is paid per batch, not per append. Latency tails also
grow with the load average above: the writer is one more thread competing for the cores.
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0, help="paced appends per second")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the paced phase")
    parser.add_argument("--burst", type=int, default=20_000, help="appends in the flat-out phase")
    parser.add_argument("--busy", type=float, default=0.5, help="loop share kept busy, phase 3")
    parser.add_argument("--quick", action="store_true", help="2 s paced, 2,000 at once")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.burst = 2.0, 2_000

    load_before = os.getloadavg()[0]
    work = measure(args.rate, args.seconds, args.burst, args.busy)
    if args.loop == "uvloop":
        import uvloop  # the loop the server runs on

        phases = uvloop.run(work)
    else:
        phases = asyncio.run(work)

    text = report(phases, args.loop, (load_before, os.getloadavg()[0]))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main()
