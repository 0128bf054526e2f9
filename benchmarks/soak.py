"""Soak: a real `rtchat serve` under churning clients for a long time, checked for leaks and
for every message delivered exactly once.

    python benchmarks/soak.py                      # an hour (make soak; SOAK_SECONDS=...)
    python benchmarks/soak.py --seconds 60 --report test-artifacts/soak-60s.md

Clients (python-socketio over long-polling and over WebSocket, and raw WebSocket ones)
connect, join, post in several rooms, type, leave and join rooms, reconnect with their
token and quit for new users to take their place (soak_clients.py); every delivery is
counted (soak_ledger.py). The server's RSS and open descriptors are sampled every
`SAMPLE_SECONDS`. The run passes when:

- no message was lost or handed to a client twice, and the stored log is gapless;
- memory is flat after warm-up: the median RSS of the last third of the client phase is
  at most `FLAT_RSS_TOLERANCE` above the median of the second third (the first third is
  the warm-up);
- the open descriptors are back to the baseline once every client has left;
- the server logged no traceback and no error, and stopped with exit code 0.

Everything talks to 127.0.0.1 only; every loop ends by a deadline or a count.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from soak_clients import SoakClient, Tally
from soak_ledger import Ledger
from soak_report import Sample, Verdict, commit, write_report

REPO = Path(__file__).resolve().parents[1]
ROOMS = ("general", "soak-a", "soak-b", "soak-c")
KINDS = ("sio-polling", "sio-websocket", "raw")
SAMPLE_SECONDS = 2.0
FLAT_RSS_TOLERANCE = 0.10
RETIRE_CHANCE = 0.02  # per action: the person quits and someone new takes their place
PAUSE_SECONDS = (0.3, 1.5)  # between one client's actions
RECONNECT_TRIES = 5
SETTLE_SECONDS = 30.0  # for descriptors to come back after the last client left
READY_SECONDS = 15.0
STOP_SECONDS = 15.0
PAGE_GUARD = 10_000  # sync pages per room at most when reading the whole log


@dataclass
class Server:
    process: asyncio.subprocess.Process
    url: str
    log: list[str] = field(default_factory=list)
    drain: asyncio.Task[None] | None = None
    gone: asyncio.Event = field(default_factory=asyncio.Event)  # exited, or asked to
    gone_at: float | None = None  # when it exited without being asked

    async def watch(self, started: float) -> None:
        await self.process.wait()
        if not self.gone.is_set():
            self.gone_at = time.monotonic() - started
            self.gone.set()


async def start_server(database: Path, log_path: Path) -> Server:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    env["PYTHONUNBUFFERED"] = "1"
    # Every soak client comes from 127.0.0.1, and over an hour more people take a seat a
    # minute than one address may join (RTCHAT_JOINS_PER_MINUTE): that limit is lifted.
    env["RTCHAT_JOINS_PER_MINUTE"] = "0"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "rtchat", "serve", "--host", "127.0.0.1", "--port", "0"),
        *("--log-level", "info", "--database-url", f"sqlite:///{database}"),
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    assert process.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(READY_SECONDS):
        while line := (await process.stdout.readline()).decode(errors="replace"):
            lines.append(line.rstrip())
            if found := re.search(r"rtchat listening on (http://\S+)", line):
                server = Server(process, found.group(1), lines)
                server.drain = asyncio.create_task(_drain(process.stdout, lines, log_path))
                return server
    raise RuntimeError("rtchat exited before it was ready:\n" + "\n".join(lines))


async def _drain(stream: asyncio.StreamReader, lines: list[str], log_path: Path) -> None:
    # Kept in a file as it comes, so that a run that ends badly still leaves its log.
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        log.writelines(line + "\n" for line in lines)
        while line := await stream.readline():
            lines.append(line.decode(errors="replace").rstrip())
            log.write(lines[-1] + "\n")
            log.flush()


async def stop_server(server: Server) -> int | None:
    if server.process.returncode is None:
        server.gone.set()  # from here on, its exit is asked for
        server.process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(server.process.wait(), STOP_SECONDS)
    except TimeoutError:
        server.process.kill()
        await server.process.wait()
        code = None  # did not stop by itself
    if server.drain is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(server.drain, STOP_SECONDS)
    return code


def sample(pid: int, started: float, connections: int) -> Sample:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    return Sample(time.monotonic() - started, rss_kb * 1024, fds, connections, cpu)


def health_session() -> aiohttp.ClientSession:
    # No keep-alive: a pooled connection would be one more descriptor on the server's side.
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))


def descriptors(pid: int) -> list[str]:
    """What the server's open descriptors point at (a file, `socket:[inode]`, a pipe)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # closed while listing
            found.append(os.readlink(f"/proc/{pid}/fd/{fd}"))
    return sorted(found)


async def connection_count(http: aiohttp.ClientSession, url: str) -> int:
    async with http.get(url + "/healthz") as response:
        return int((await response.json())["connections"])


async def sampler(
    server: Server, started: float, samples: list[Sample], stop: asyncio.Event
) -> None:
    async with health_session() as http:
        while not stop.is_set() and not server.gone.is_set():
            try:
                connections = await connection_count(http, server.url)
                samples.append(sample(server.process.pid, started, connections))
            except (aiohttp.ClientError, OSError):
                if server.process.returncode is not None:
                    return  # the watcher notes when; nothing is left to sample
                raise
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), SAMPLE_SECONDS)


async def settle(server: Server, baseline: list[str] | None) -> list[str]:
    """Wait (bounded) until no connection is left and the descriptors are back to
    `baseline` (if given); the descriptors open then."""
    async with health_session() as http:
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            idle = await connection_count(http, server.url) == 0
            await asyncio.sleep(0.5)  # the health request's own connection closes meanwhile
            now = descriptors(server.process.pid)
            back = baseline is None or len(now) <= len(baseline)
            if (idle and back) or time.monotonic() > deadline:
                return now


async def prepare_rooms(url: str, ledger: Ledger, tally: Tally) -> None:
    admin = SoakClient("soak-admin", url, "sio-websocket", ROOMS, ledger, tally, random.Random(0))
    assert await admin.connect()
    for room in ROOMS[1:]:
        answer = await admin.call("create-room", {"name": room, "topic": "soak"})
        assert answer["ok"], answer
    await admin.disconnect()


async def worker(
    index: int, server: Server, deadline: float, ledger: Ledger, tally: Tally, rng: random.Random
) -> None:
    """One seat: a person churns, quits, and someone new sits down, until the deadline."""
    kind = KINDS[index % len(KINDS)]
    for generation in range(1_000_000):
        name = f"{kind}-{index}-{generation}"
        client = SoakClient(name, server.url, kind, ROOMS, ledger, tally, rng)
        tally.add("users")
        retired = await run_person(client, server, deadline, rng)
        if server.gone.is_set():
            await client.disconnect(abrupt=True)
            return
        await client.finish(RECONNECT_TRIES)
        if not retired:
            return


async def run_person(
    client: SoakClient, server: Server, deadline: float, rng: random.Random
) -> bool:
    """Act until the deadline (False) or until the person quits (True)."""
    failures = 0
    connected = False
    while time.monotonic() < deadline and not server.gone.is_set():
        if not connected:
            connected = await client.connect()
            failures = 0 if connected else failures + 1
            if failures >= RECONNECT_TRIES:
                client.ledger.violation(f"{client.name}: could not reconnect {failures} times")
                return False
            if not connected:
                await asyncio.sleep(min(2.0**failures * 0.1, 2.0))
                continue
        if rng.random() < RETIRE_CHANCE:
            return True
        connected = await client.act()
        await asyncio.sleep(rng.uniform(*PAUSE_SECONDS))
    return False


async def check_log(url: str, ledger: Ledger) -> dict[str, int]:
    """Read every room's whole log as a new member would and hold it to the ledger."""
    tally = Tally()
    checker = SoakClient(
        "soak-checker", url, "sio-websocket", ROOMS, ledger, tally, random.Random(0)
    )
    assert await checker.connect(), "the checker could not connect"
    lengths: dict[str, int] = {}
    stored: dict[object, object] = {}  # message id -> seq
    for room in ROOMS:
        if room != "general":
            answer = await checker.call("join-room", {"room": room})
            assert answer["ok"], answer
        log: list[dict[str, object]] = []
        for _ in range(PAGE_GUARD):
            answer = await checker.call("sync", {"rooms": {room: len(log)}})
            page = answer["data"]["rooms"][room]
            log += page["messages"]
            if not page["hasMore"]:
                break
        lengths[room] = len(log)
        if [m["seq"] for m in log] != list(range(1, len(log) + 1)):
            ledger.violation(f"{room}: the stored log is not numbered 1..{len(log)}")
        sent = [(m["username"], m["clientId"]) for m in log if m["clientId"]]
        if len(set(sent)) != len(sent):
            ledger.violation(f"{room}: a clientId was stored twice")
        for message in log:
            ledger.identify(message)  # what any client was handed is what is stored
            stored[message["id"]] = message["seq"]
    for (author, client_id), (message_id, seq) in ledger.acked.items():
        if stored.get(message_id) != seq:
            ledger.violation(f"{author}'s acknowledged {client_id} (#{seq}) is not stored")
    await checker.disconnect()
    return lengths


def verdicts(samples: list[Sample], clients_from: float, clients_until: float) -> Verdict:
    during = [s for s in samples if clients_from <= s.at <= clients_until]
    span = (clients_until - clients_from) / 3
    second = [s.rss for s in during if clients_from + span <= s.at < clients_from + 2 * span]
    last = [s.rss for s in during if s.at >= clients_from + 2 * span]
    second_median = statistics.median(second) if second else 0
    last_median = statistics.median(last) if last else 0
    flat = bool(second and last) and last_median <= second_median * (1 + FLAT_RSS_TOLERANCE)
    return Verdict(second_median, last_median, flat)


async def soak(seconds: float, clients: int, seed: int, report: Path) -> bool:
    rng = random.Random(seed)
    ledger, tally = Ledger(), Tally()
    samples: list[Sample] = []
    lengths: dict[str, int] = {}
    final_fds: list[str] = []
    log_path = report.with_suffix(".server.log")
    code_version = commit()
    with tempfile.TemporaryDirectory(prefix="rtchat-soak-") as work:
        server = await start_server(Path(work) / "soak.db", log_path)
        started = time.monotonic()
        watching = asyncio.create_task(server.watch(started))
        stop_sampling = asyncio.Event()
        sampling: asyncio.Task[None] | None = None
        try:
            await prepare_rooms(server.url, ledger, tally)
            baseline_fds = await settle(server, None)
            baseline = sample(server.process.pid, started, 0)
            sampling = asyncio.create_task(sampler(server, started, samples, stop_sampling))
            clients_from = time.monotonic() - started
            deadline = time.monotonic() + seconds
            seats = [
                worker(i, server, deadline, ledger, tally, random.Random(rng.random()))
                for i in range(clients)
            ]
            # Each seat stops by the deadline; finishing one client is bounded by timeouts.
            await asyncio.wait_for(asyncio.gather(*seats), seconds + 120)
            clients_until = time.monotonic() - started
            if not server.gone.is_set():
                lengths = await check_log(server.url, ledger)
                final_fds = await settle(server, baseline_fds)
        finally:
            stop_sampling.set()
            if sampling is not None:
                await sampling
            died_at = server.gone_at
            code = await stop_server(server)
            watching.cancel()
    memory = verdicts(samples, clients_from, clients_until)
    troubles = [line for line in server.log if re.search(r"Traceback| ERROR | CRITICAL ", line)]
    passed = (
        died_at is None
        and ledger.violation_count == 0
        and memory.flat
        and len(final_fds) <= len(baseline_fds)
        and not troubles
        and code == 0
    )
    write_report(
        report,
        commit=code_version,
        seconds=seconds,
        clients=clients,
        seed=seed,
        rooms=lengths,
        ledger=ledger,
        tally=tally,
        samples=samples,
        baseline=baseline,
        baseline_fds=baseline_fds,
        final_fds=final_fds,
        memory=memory,
        tolerance=FLAT_RSS_TOLERANCE,
        troubles=troubles,
        died_at=died_at,
        exit_code=code,
        log_tail=server.log[-40:],
        log_path=log_path,
        passed=passed,
    )
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3600.0, help="client phase length")
    parser.add_argument("--clients", type=int, default=15, help="clients at once")
    parser.add_argument("--seed", type=int, default=12, help="seed of every random choice")
    stamp = time.strftime("%Y-%m-%d-%H%M", time.gmtime())
    parser.add_argument(
        "--report", type=Path, default=REPO / "benchmarks" / "results" / f"soak-{stamp}.md"
    )
    args = parser.parse_args()
    passed = asyncio.run(soak(args.seconds, args.clients, args.seed, args.report))
    print(f"soak {'passed' if passed else 'FAILED'}: {args.report}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
