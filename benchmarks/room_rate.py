"""One room at a fixed 1,000 messages per second through `rtchat serve` with SQLite on.

    .venv/bin/python benchmarks/room_rate.py [--rate 1000] [--seconds 10]

Issue #3 asks that persistence never becomes the bottleneck: this sends `--rate`
messages/s from 5 senders into `general` for `--seconds`, with 5 more connections
receiving, then checks that every message was acknowledged, delivered to every
receiver once, and stored (counted in the SQLite file). The server is pinned to core 0
and this generator to core 1. It writes benchmarks/results/room-rate.md. Clients speak
Engine.IO/Socket.IO over the `websockets` library directly: python-socketio's client
costs more CPU per message than the server under test. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson
import websockets

BENCH = Path(__file__).resolve().parent
SENDERS = 5
RECEIVERS = 5


class Peer:
    """A raw Socket.IO v5 client on one WebSocket: enough for join, send and receive."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.acks: dict[int, asyncio.Future[object]] = {}
        self.received: dict[str, float] = {}  # message text -> receive time
        self.duplicates = 0
        self._next_ack = 0

    @classmethod
    async def connect(cls, port: int, name: str) -> Peer:
        url = f"ws://127.0.0.1:{port}/socket.io/?EIO=4&transport=websocket"
        peer = cls(await websockets.connect(url, max_size=None, compression=None))
        await peer.ws.recv()  # Engine.IO open
        await peer.ws.send("40")
        await peer.ws.recv()  # Socket.IO connect ack
        peer.reader = asyncio.create_task(peer._read())
        await peer.call("user-joined", name)
        return peer

    async def call(self, event: str, data: object) -> object:
        self._next_ack += 1
        ack_id = self._next_ack
        future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        self.acks[ack_id] = future
        await self.ws.send(f"42{ack_id}" + orjson.dumps([event, data]).decode())
        return await future

    async def _read(self) -> None:
        async for frame in self.ws:
            assert isinstance(frame, str)
            if frame == "2":
                await self.ws.send("3")
            elif frame.startswith("43"):
                ack_id, _, body = frame[2:].partition("[")
                self.acks.pop(int(ack_id)).set_result(orjson.loads("[" + body))
            elif frame.startswith('42["receive-message"'):
                text = orjson.loads(frame[2:])[1]["message"]
                if text in self.received:
                    self.duplicates += 1
                self.received[text] = time.perf_counter()


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _sender(peer: Peer, index: int, rate: float, seconds: float, sent: dict[str, float]):
    interval = SENDERS / rate
    start = time.perf_counter() + index * interval / SENDERS
    pending = []
    for n in range(int(seconds * rate / SENDERS)):
        delay = start + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        text = f"s{index}-{n}"
        sent[text] = time.perf_counter()
        pending.append(asyncio.create_task(peer.call("send-message", text)))
    answers = await asyncio.gather(*pending)
    return sum(1 for a in answers if isinstance(a, list) and a[0].get("ok"))


async def _measure(port: int, pid: int, rate: float, seconds: float) -> dict[str, object]:
    senders = [await Peer.connect(port, f"sender{i}") for i in range(SENDERS)]
    receivers = [await Peer.connect(port, f"receiver{i}") for i in range(RECEIVERS)]
    sent: dict[str, float] = {}
    cpu_before, wall_before = _cpu_seconds(pid), time.perf_counter()
    acked = sum(
        await asyncio.gather(*(_sender(p, i, rate, seconds, sent) for i, p in enumerate(senders)))
    )
    elapsed = time.perf_counter() - wall_before
    send_span = max(sent.values()) - min(sent.values())
    for _ in range(200):  # up to 10 s for the last deliveries
        if all(len(r.received) >= len(sent) for r in receivers):
            break
        await asyncio.sleep(0.05)
    cpu = _cpu_seconds(pid) - cpu_before
    latencies = sorted(
        (r.received[text] - at) * 1000
        for r in receivers
        for text, at in sent.items()
        if text in r.received
    )
    for peer in senders + receivers:
        await peer.ws.close()
    return {
        "sent": len(sent),
        "acked": acked,
        "delivered": sum(len(r.received) for r in receivers),
        "expected": len(sent) * RECEIVERS,
        "duplicates": sum(r.duplicates for r in receivers),
        "rate": (len(sent) - 1) / send_span,
        "server_cpu": cpu / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "max": latencies[-1],
    }


def _run(database_url: str, rate: float, seconds: float) -> dict[str, object]:
    port = 39000 + os.getpid() % 1000
    rtchat = str(Path(sys.executable).parent / "rtchat")
    server = subprocess.Popen(
        ["taskset", "-c", "0", rtchat, "serve", "--port", str(port), "--log-level", "warning"],
        env={**os.environ, "RTCHAT_DATABASE_URL": database_url, "RTCHAT_RATE_LIMIT": "0"},
        stdout=subprocess.PIPE,
    )
    try:
        assert server.stdout is not None
        assert server.stdout.readline().startswith(b"rtchat listening")
        os.sched_setaffinity(0, {1})
        return asyncio.run(_measure(port, server.pid, rate, seconds))
    finally:
        server.terminate()
        server.wait(timeout=15)


def _row(name: str, on: dict[str, object], off: dict[str, object], key: str) -> str:
    return f"| {name} | {on[key]} | {off[key]} |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=1000)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "room-rate.db"
        on = _run(f"sqlite:///{database}", args.rate, args.seconds)
        with contextlib.closing(sqlite3.connect(database)) as db:
            on["stored"] = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    off = _run("memory://", args.rate, args.seconds)
    off["stored"] = "(memory)"
    ok = (
        on["acked"] == on["sent"] == on["stored"]
        and on["delivered"] == on["expected"]
        and on["duplicates"] == 0
    )
    cpu_model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    for run in (on, off):
        run["rate"] = f"{run['rate']:.0f}"
        run["server_cpu"] = f"{run['server_cpu']:.0%}"
        for key in ("p50", "p99", "max"):
            run[key] = f"{run[key]:.1f}"
    rows = "\n".join(
        _row(name, on, off, key)
        for name, key in [
            ("messages sent", "sent"),
            ("acknowledged", "acked"),
            ("stored", "stored"),
            ("achieved send rate (messages/s)", "rate"),
            ("deliveries", "delivered"),
            ("expected deliveries", "expected"),
            ("duplicates", "duplicates"),
            ("server CPU (one core)", "server_cpu"),
            ("latency p50 (ms)", "p50"),
            ("latency p99 (ms)", "p99"),
            ("latency max (ms)", "max"),
        ]
    )
    verdict = "sustained: every message stored once, delivered once" if ok else "FAILED"
    report = f"""# One room at {args.rate:.0f} messages/s, SQLite on and off

Measured {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())} by `benchmarks/room_rate.py`
on {cpu_model}, {os.cpu_count()} cores; Python {platform.python_version()},
SQLite {sqlite3.sqlite_version}. `rtchat serve` pinned to core 0 (rate limit off), the
generator on core 1: {SENDERS} senders, {RECEIVERS} receivers, {args.seconds:.0f} s.
Verdict with SQLite on: **{verdict}**.

| figure | SQLite file | memory:// |
| --- | --- | --- |
{rows}
"""
    (BENCH / "results").mkdir(exist_ok=True)
    (BENCH / "results" / "room-rate.md").write_text(report)
    print(report)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
