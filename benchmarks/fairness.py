"""How long an honest user's round trip takes while one client floods the server.

    .venv/bin/python benchmarks/fairness.py [--joins 2000] [--seconds 8]

Issue #12 saw an honest `send-message` round trip reach p95 1.2 s while 2,000 sockets
joined, and p95 756 ms while 10 sockets asked for an unpaged `list-rooms`; the goal is
about 250 ms at most. This starts `rtchat serve` (SQLite, pinned to core 0, the load on
core 1), keeps one honest user sending a message every 50 ms and timing each
acknowledgement, and runs one flood at a time beside it:

- `join flood`: `--joins` sockets connect and join at once, twice: with the limits as
  they ship (every socket comes from 127.0.0.1, so most joins are refused), and with the
  per-address limits lifted, as if each came from an address of its own;
- `list-rooms`: 10 sockets asking for the rooms over and over, 5,000 rooms stored;
- `sync, 200 spellings`: 10 sockets syncing 200 spellings of one room of 500 messages;
- `sync, 200 full rooms`: 10 sockets syncing 200 rooms of 500 messages each from 0, the
  most one request may ask for;
- `join-room general` and `list-online general`: 10 sockets opening `general`, which
  20,000 accounts are members of, and asking who of it is online.

It writes benchmarks/results/fairness.md. Loopback only, bounded in time. Clients speak
Engine.IO/Socket.IO over `websockets` directly (python-socketio costs more per socket).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import websockets

from rtchat.domain.models import MessageDraft, Room, User
from rtchat.service.ids import token_hash
from rtchat.storage import SqliteStorage

BENCH = Path(__file__).resolve().parent
READERS = 10
ROOMS = 5000
HEAVY_ROOMS = 200
PER_ROOM = 500
ACCOUNTS = 20_000  # members of general besides the floods' own
HONEST = 3
TICK = 0.15  # each honest user's pace: within the send limit (10 a second, bursts of 20)
LIFTED = {
    "RTCHAT_JOINS_PER_MINUTE": "0",
    "RTCHAT_ROOMS_PER_HOUR": "0",
    "RTCHAT_ROOMS_PER_HOUR_PER_ADDRESS": "0",
}


class Peer:
    """A raw Socket.IO v5 client on one WebSocket: connect, call with an ack, ignore the rest."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.acks: dict[int, asyncio.Future[list[object]]] = {}
        self._next_ack = 0
        self.reader: asyncio.Task[None] | None = None

    @classmethod
    async def connect(cls, port: int, token: str | None = None) -> Peer:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        peer = cls(await websockets.connect(url, max_size=None, compression=None))
        await peer.ws.recv()  # Engine.IO open
        await peer.ws.send("40" + (orjson.dumps({"token": token}).decode() if token else ""))
        while not str(await peer.ws.recv()).startswith("40"):
            pass  # events that came before the connect acknowledgement
        peer.reader = asyncio.create_task(peer._read())
        return peer

    async def call(self, event: str, data: object) -> dict[str, object]:
        self._next_ack += 1
        ack_id = self._next_ack
        future: asyncio.Future[list[object]] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        await self.ws.send(f"42{ack_id}" + orjson.dumps([event, data]).decode())
        answer = await future
        return answer[0]  # type: ignore[return-value]

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            with contextlib.suppress(Exception):
                await self.reader

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for frame in self.ws:
                if frame == "2":
                    await self.ws.send("3")
                elif isinstance(frame, str) and frame.startswith("43"):
                    ack_id, _, body = frame[2:].partition("[")
                    future = self.acks.pop(int(ack_id), None)
                    if future is not None and not future.done():
                        future.set_result(orjson.loads("[" + body))
        for future in self.acks.values():
            if not future.done():
                future.set_exception(ConnectionError("closed"))


@dataclass
class Phase:
    name: str
    rtts: list[float] = field(default_factory=list)  # ms
    failed: int = 0
    flood: str = ""

    def row(self) -> str:
        r = sorted(self.rtts)
        if not r:
            return f"| {self.name} | 0 | - | - | - | - | {self.flood} |"
        p95 = r[max(0, int(len(r) * 0.95) - 1)]
        p99 = r[max(0, int(len(r) * 0.99) - 1)]
        return (
            f"| {self.name} | {len(r)} | {statistics.median(r):.1f} | {p95:.1f} | "
            f"{p99:.1f} | {r[-1]:.1f} | {self.flood} |"
        )


async def _honest(peer: Peer, phase: Phase, stop: asyncio.Event, start: float) -> None:
    await asyncio.sleep(start)
    n = 0
    while not stop.is_set():
        n += 1
        started = time.perf_counter()
        answer = await peer.call("send-message", f"honest {phase.name} {n}")
        phase.rtts.append((time.perf_counter() - started) * 1000)
        if not answer.get("ok"):
            phase.failed += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), TICK)


async def _measured(port: int, name: str, flood: dict[str, object]) -> Phase:
    """Honest round trips in this process while `flood` runs in a process of its own (so
    that the flood's client work never delays the honest timings)."""
    honest = [await Peer.connect(port) for _ in range(HONEST)]
    for peer in honest:
        answer = await peer.call("user-joined", f"honest-{time.monotonic_ns()}")
        assert answer.get("ok"), answer
    phase, stop = Phase(name), asyncio.Event()
    timers = [
        asyncio.create_task(_honest(peer, phase, stop, i * TICK / HONEST))
        for i, peer in enumerate(honest)
    ]
    await asyncio.sleep(0.5)  # a few idle round trips first
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--flood",
            orjson.dumps({**flood, "port": port}).decode(),
            stdout=asyncio.subprocess.PIPE,
        )
        out, _ = await child.communicate()
        assert child.returncode == 0, f"the {name} flood failed"
        phase.flood = out.decode().strip().splitlines()[-1]
    finally:
        stop.set()
        await asyncio.gather(*timers)
        for peer in honest:
            await peer.close()
    return phase


async def _join_flood(port: int, count: int) -> str:
    """`count` sockets that connect, send `user-joined` (without an acknowledgement, as the
    seed's client does) and then read nothing more, as a flooder would not: parsing
    every socket's copy of every `user-connected` would cost this process more than the
    server. How many got in is read from `/healthz`."""
    started = time.perf_counter()
    before = await _users(port)
    url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"

    async def one(i: int) -> websockets.ClientConnection:
        ws = await websockets.connect(url, max_size=None, compression=None)
        await ws.recv()  # Engine.IO open
        await ws.send("40")
        await ws.recv()  # Socket.IO connect acknowledgement
        await ws.send("42" + orjson.dumps(["user-joined", f"flood{i}"]).decode())
        return ws

    sockets = await asyncio.gather(*(one(i) for i in range(count)), return_exceptions=True)
    opened = [ws for ws in sockets if not isinstance(ws, BaseException)]
    joined, steady = await _users(port), 0
    while steady < 30:  # three seconds without a new join
        await asyncio.sleep(0.1)
        now = await _users(port)
        steady = steady + 1 if now == joined else 0
        joined = now
    took = time.perf_counter() - started - 3.0
    await asyncio.gather(*(ws.close() for ws in opened), return_exceptions=True)
    return f"{len(opened)} sockets opened, {joined - before} of them joined, in {took:.1f} s"


async def _users(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
    response = await reader.read()
    writer.close()
    return int(orjson.loads(response.split(b"\r\n\r\n", 1)[1])["users"])


async def _readers(
    port: int, seconds: float, request: list[object], token: str | None = None
) -> str:
    peers = [await Peer.connect(port, token) for _ in range(READERS)]
    if token is None:
        for i, peer in enumerate(peers):
            await peer.call("user-joined", f"reader{i}-{time.monotonic_ns()}")
    deadline = time.perf_counter() + seconds
    answers = refused = biggest = 0

    async def loop(peer: Peer) -> None:
        nonlocal answers, refused, biggest
        while time.perf_counter() < deadline:
            answer = await peer.call(str(request[0]), request[1])
            if not answer.get("ok"):  # refused: a flooder asks again at once
                assert answer["error"]["code"] == "rate_limited", str(answer)[:200]  # type: ignore[index]
                refused += 1
                continue
            answers += 1
            biggest = max(biggest, len(orjson.dumps(answer)))

    await asyncio.gather(*(loop(p) for p in peers))
    for peer in peers:
        await peer.close()
    return (
        f"{READERS} sockets: {answers / seconds:.0f} answers/s (the largest "
        f"{biggest / 1024:.0f} KiB), {refused / seconds:.0f}/s refused"
    )


async def _fill(database: Path) -> tuple[str, str]:
    """The rooms and messages the floods read, stored before the server starts; the
    token of the account that is a member of every heavy room."""
    storage = await SqliteStorage.open(database)
    try:
        reader = User("bench-reader", "bench-reader")
        token = "bench-reader-token"
        await storage.users.create(reader, token_hash(token))
        members = [User(f"bench-{i}", f"member{i:05d}") for i in range(ACCOUNTS)]
        await asyncio.gather(*(storage.users.create(u, f"hash-{u.id}") for u in members))
        await storage.rooms.create(Room("general"), (reader.id, *(u.id for u in members)))
        for i in range(ROOMS):
            await storage.rooms.create(Room(f"room-{i:05d}"))
        heavy = [f"heavy-{i:03d}" for i in range(HEAVY_ROOMS)]
        for name in heavy:
            await storage.rooms.create(Room(name), (reader.id,))
        when = datetime.now(UTC) - timedelta(hours=1)
        n = 0
        for name in heavy:
            drafts = []
            for _ in range(PER_ROOM):
                n += 1
                drafts.append(MessageDraft(f"m{n}", name, reader, f"message {n}", when))
            await asyncio.gather(*(storage.messages.append(d) for d in drafts))
        return token, heavy[0]
    finally:
        await storage.close()


def _start(database: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    rtchat = str(Path(sys.executable).parent / "rtchat")
    cmd = [rtchat, "serve", "--port", str(port), "--log-level", "warning"]
    if _can_pin():
        cmd = ["taskset", "-c", "0", *cmd]
    server = subprocess.Popen(
        cmd,
        env={**os.environ, "RTCHAT_DATABASE_URL": f"sqlite:///{database}", **env},
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None
    assert server.stdout.readline().startswith(b"rtchat listening")
    return server


def _can_pin() -> bool:
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


async def _reads(port: int, seconds: float, token: str, room: str) -> list[Phase]:
    spellings = {(" " * (i % 7)) + room.upper()[: i % 8] + room[i % 8 :] for i in range(200)}
    heavy = {f"heavy-{i:03d}": 0 for i in range(HEAVY_ROOMS)}
    reads: list[tuple[str, list[object], str | None]] = [
        ("list-rooms, no payload", ["list-rooms", None], None),
        ("list-rooms, 200 a page", ["list-rooms", {"limit": 200}], None),
        ("sync, 200 spellings", ["sync", {"rooms": dict.fromkeys(spellings, 0)}], token),
        ("sync, 200 full rooms", ["sync", {"rooms": heavy}], token),
        ("join-room general", ["join-room", {"room": "general"}], token),
        ("list-online general", ["list-online", {"room": "general"}], token),
    ]
    phases = [await _measured(port, "idle", {"kind": "idle", "seconds": seconds})]
    for name, request, reader in reads:
        spec = {"kind": "reads", "seconds": seconds, "request": request, "token": reader}
        phases.append(await _measured(port, name, spec))
    return phases


async def _flood(spec: dict[str, object]) -> str:
    """What runs in the flood's own process (see `_measured`)."""
    port, kind = int(str(spec["port"])), spec["kind"]
    if kind == "joins":
        return await _join_flood(port, int(str(spec["count"])))
    seconds = float(str(spec["seconds"]))
    if kind == "reads":
        request, token = spec["request"], spec["token"]
        assert isinstance(request, list)
        return await _readers(port, seconds, request, None if token is None else str(token))
    await asyncio.sleep(seconds)
    return "nothing else"


Work = Callable[[int], Awaitable[list[Phase]]]


def _server_run(database: Path, env: dict[str, str], work: Work) -> list[Phase]:
    port = 39500 + os.getpid() % 400
    server = _start(database, port, env)
    try:
        if _can_pin():
            os.sched_setaffinity(0, {1})
        return asyncio.run(work(port))
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--joins", type=int, default=2000)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument(
        "--floods",
        default="shipped,lifted,reads",
        help="which servers to run: joins with the limits as shipped, joins with them "
        "lifted, the reads (comma-separated)",
    )
    parser.add_argument("--flood", help=argparse.SUPPRESS)  # the flood's own process
    args = parser.parse_args()
    if args.flood:
        print(asyncio.run(_flood(orjson.loads(args.flood))))
        return 0
    runs = set(args.floods.split(","))
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "fairness.db"
        token, room = asyncio.run(_fill(database))

        joins = {"kind": "joins", "count": args.joins}

        async def joins_shipped(port: int) -> list[Phase]:
            return [await _measured(port, "join flood, limits as shipped", joins)]

        async def joins_lifted(port: int) -> list[Phase]:
            return [await _measured(port, "join flood, limits lifted", joins)]

        async def reads(port: int) -> list[Phase]:
            return await _reads(port, args.seconds, token, room)

        if "shipped" in runs:
            phases += _server_run(database, {}, joins_shipped)
        if "lifted" in runs:
            phases += _server_run(database, LIFTED, joins_lifted)
        if "reads" in runs:
            phases += _server_run(database, {}, reads)
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=BENCH
    ).stdout.strip()
    rows = "\n".join(p.row() for p in phases)
    failed = sum(p.failed for p in phases)
    report = f"""# An honest user's round trip beside one client's flood

Measured {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} by `benchmarks/fairness.py`
at commit {commit} on {cpu_model}, {os.cpu_count()} cores, load average
{os.getloadavg()[0]:.2f} at the end; Python {platform.python_version()}. `rtchat serve`
(SQLite) {"pinned to core 0, the clients to core 1" if _can_pin() else "unpinned"}. The
{HONEST} honest users each send a message every {TICK * 1000:.0f} ms and time its
acknowledgement; {failed} of their messages were refused. Stored before the start:
{ROOMS:,} rooms, {HEAVY_ROOMS} rooms of {PER_ROOM} messages each, and {ACCOUNTS:,}
accounts, all members of `general`.

| flood | round trips | p50 ms | p95 ms | p99 ms | max ms | the flood |
| --- | ---: | ---: | ---: | ---: | ---: | --- |
{rows}
"""
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "fairness.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
