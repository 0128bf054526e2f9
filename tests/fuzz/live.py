"""A bounded live fuzz of a real `rtchat serve`: malformed HTTP, WebSocket frames, Engine.IO
and Socket.IO packets over both transports, and chat events with hostile payloads.

    python -m tests.fuzz.live --cases 20000 --seed 1      (what `make fuzz` runs)

The cases come from one seeded `random.Random`, so a run is repeated exactly by its seed
and case count (the timing of concurrent cases aside). The run fails on:

- any traceback or ERROR line in the server's log,
- the server exiting (a crash), or not answering `/healthz` within `HANG_AFTER` seconds,
- a leak: once every case has closed its connections, the server's open descriptors
  (`/proc/<pid>/fd`) and its Socket.IO connections (`/healthz`) must come back to what
  they were before the first case,
- a stop (SIGTERM) that does not end in exit code 0 within `STOP_WITHIN` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import contextlib
import json
import os
import random
import signal
import struct
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

CONCURRENCY = 16  # cases in flight at once
CASE_LIMIT = 10.0  # seconds one case may take (client side) before it is abandoned
QUIET = 0.2  # seconds without bytes after which a case stops reading an answer
READ_FOR = 2.0  # seconds a case reads answers at most
HANG_AFTER = 5.0  # seconds /healthz may take before the server counts as hung
CHECK_EVERY = 50  # cases between /healthz probes
SETTLE_WITHIN = 20.0  # seconds for descriptors and connections to come back afterwards
STOP_WITHIN = 10.0

EVENTS = [
    "user-joined", "session", "send-message", "typing", "list-rooms", "create-room",
    "join-room", "leave-room", "open-dm", "history", "sync", "list-online", "mark-read",
    "search", "edit-message", "delete-message", "react", "no-such-event",
]  # fmt: skip
FIELDS = [
    "room", "text", "clientId", "before", "limit", "rooms", "name", "topic", "username", "seq",
    "query", "id", "emoji", "on", "replyTo",
]  # fmt: skip
EDGE_NUMBERS = [0, -1, 1.5, 2**31, 2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 1e308]
ODD_TEXT = ["", " ", "__proto__", "constructor", "general", "dm:x:y", "é" * 50, "\u0000", "\u202e"]
# What mutations insert: digits a parser may misread, separators, and very long numbers.
INSERTS = [
    "\u00b2", "\u0661", "\uff11", "\x1e", "\x00", "-", "/", ",", "[", "]", "{", "}", '"', "b",
    "9" * 5000, "1" * 17, "4" * 20, "\ud7ff", "\U0001f600",
]  # fmt: skip
NUMBERS = ["\u00b2", "\u0661\u0662", "9" * 5000, "1" * 17, str(2**53), str(2**64), "0" * 30, "7"]
SIO_PACKETS = [
    "0", "0/admin,", '0{"token":"x"}', "1", '2["x"]', '21["echo",1]', '2/admin,3["x"]', '3["ok"]',
    '31[]', '51-["x",{"_placeholder":true,"num":0}]', '61-1[{"_placeholder":true,"num":0}]',
    "4", '451000000-["x"]', "5", "6",
]  # fmt: skip
HTTP_HEADS = [
    b"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n",
    b"POST /socket.io/?EIO=4&transport=polling&sid=x HTTP/1.1\r\nHost: h\r\n"
    b"Content-Length: 2\r\n\r\n40",
    b"OPTIONS /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\nOrigin: http://e\r\n\r\n",
    b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    b"Sec-WebSocket-Version: 13\r\n\r\n",
    b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"PUT /socket.io/socket.io.js HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
    b"GET /healthz HTTP/1.0\r\n\r\n",
    b"GET /%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\nHost: h\r\n\r\n",
]


@dataclass
class Report:
    cases: collections.Counter[str] = field(default_factory=collections.Counter)
    abandoned: collections.Counter[str] = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    before: tuple[int, int] = (0, 0)  # (descriptors, connections)
    after: tuple[int, int] = (0, 0)
    seconds: float = 0.0

    def summary(self) -> str:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(self.cases.items()))
        return (
            f"{sum(self.cases.values())} cases in {self.seconds:.1f} s ({kinds}); "
            f"{sum(self.abandoned.values())} abandoned at {CASE_LIMIT:.0f} s "
            f"({', '.join(f'{k} {n}' for k, n in sorted(self.abandoned.items())) or 'none'}); "
            f"descriptors {self.before[0]} -> {self.after[0]}, "
            f"connections {self.before[1]} -> {self.after[1]}; "
            f"{len(self.failures)} failures"
        )


# --- inputs ------------------------------------------------------------------------------


def mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 3)):
        i = rng.randint(0, len(text))
        op = rng.randrange(7)
        if op >= 5:  # a number where a parser reads one: after the type, a dash, a comma
            spots = [1, *[j + 1 for j, c in enumerate(text) if c in "-,"][:2]]
            j = min(rng.choice(spots), len(text))
            text = text[:j] + rng.choice(NUMBERS) + text[j:]
        elif op == 0:
            text = text[:i] + rng.choice(INSERTS) + text[i:]
        elif op == 1 and text:
            text = text[:i] + text[i + rng.randint(1, 4) :]
        elif op == 2:
            text = text[:i]
        elif op == 3:
            text = text[:i] + text[i:] * rng.randint(2, 4)
        else:
            text = "".join(rng.choice(INSERTS) if c.isdigit() else c for c in text)
    return text


def json_value(rng: random.Random, depth: int = 0) -> Any:
    kind = rng.randrange(9 if depth < 6 else 5)
    if kind == 0:
        return rng.choice(EDGE_NUMBERS)
    if kind == 1:
        return rng.choice(ODD_TEXT)
    if kind == 2:
        return rng.choice([None, True, False])
    if kind == 3:
        return rng.randint(-(2**64), 2**64) if rng.random() < 0.5 else rng.random()
    if kind == 4:
        return "".join(chr(rng.randint(32, 0x2FFF)) for _ in range(rng.randint(0, 40)))
    if kind in (5, 6):
        return [json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if kind == 7:
        return {rng.choice(FIELDS): json_value(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    # Nested past orjson's 1,024 levels sometimes; spliced in as text by `dumps`, since
    # json.dumps itself recurses (and runs out of stack on Python 3.11).
    return Deep(rng.choice([50, 200, 1100]))


class Deep:
    """A list nested `levels` deep, around one number."""

    def __init__(self, levels: int) -> None:
        self.levels = levels

    def text(self) -> str:
        return "[" * self.levels + "1" + "]" * self.levels


def dumps(value: Any) -> str:
    deep: list[Deep] = []

    def mark(item: Any) -> str:
        deep.append(item)
        return f"\x00deep{len(deep) - 1}\x00"

    text = json.dumps(value, ensure_ascii=False, default=mark)
    for i, item in enumerate(deep):
        text = text.replace(json.dumps(f"\x00deep{i}\x00"), item.text(), 1)
    return text


# A valid payload per event: one of its fields is then replaced by a hostile value, so
# the others pass the checks and that value reaches as far in as it can.
TEMPLATES: dict[str, dict[str, Any]] = {
    "send-message": {"room": "general", "text": "hello", "clientId": "c1"},
    "edit-message": {"room": "general", "id": "x", "text": "hello", "clientId": "e1"},
    "delete-message": {"room": "general", "id": "x", "clientId": "d1"},
    "react": {"room": "general", "id": "x", "emoji": "\U0001f44d", "on": True},
    "typing": {"room": "general", "isTyping": True},
    "create-room": {"name": "fuzz-room", "topic": "t"},
    "join-room": {"room": "general"},
    "leave-room": {"room": "fuzz-room"},
    "open-dm": {"username": "fuzz1"},
    "history": {"room": "general", "before": 10, "limit": 5},
    "sync": {"rooms": {"general": 0}},
    "list-online": {"room": "general"},
    "mark-read": {"room": "general", "seq": 1},
    "search": {"query": "hello", "room": "general", "before": "1:1:general", "limit": 5},
}


def event_args(rng: random.Random, event: str) -> list[Any]:
    template = TEMPLATES.get(event)
    if template is not None and rng.random() < 0.5:
        payload = dict(template)
        name = rng.choice(list(payload))
        hostile = rng.choice(EDGE_NUMBERS) if rng.random() < 0.5 else json_value(rng)
        if name == "rooms" and rng.random() < 0.7:
            hostile = {"general": hostile}
        payload[name] = hostile
        return [payload]
    if rng.random() < 0.6:
        payload = {name: json_value(rng) for name in rng.sample(FIELDS, rng.randint(1, 4))}
        return [payload]
    return [json_value(rng) for _ in range(rng.randint(0, 3))]


def ws_frame(rng: random.Random) -> bytes:
    """A client frame with any header: opcode, reserved bits, mask, length form."""
    opcode = rng.choice([0x0, 0x1, 0x2, 0x8, 0x9, 0xA, 0x3, 0xB, 0xF])
    first = (rng.random() < 0.9) << 7 | (rng.random() < 0.1) << rng.randint(4, 6) | opcode
    if opcode == 0x8:
        payload = struct.pack("!H", rng.choice([1000, 1001, 1005, 1006, 1015, 999, 3000, 4999]))
        payload += rng.choice([b"", b"bye", b"\xff\xfe", "é".encode()])[: rng.randint(0, 5)]
    elif rng.random() < 0.7:
        payload = mutate(rng, rng.choice(SIO_PACKETS)).encode("utf-8", "surrogatepass")
    else:
        payload = rng.randbytes(rng.randint(0, 200))
    n = len(payload)
    masked = rng.random() < 0.95
    if n < 126 and rng.random() < 0.8:
        head = bytes([first, masked << 7 | n])
    elif n < 65536 and rng.random() < 0.5:
        head = bytes([first, masked << 7 | 126]) + struct.pack("!H", n)
    else:
        length = n if rng.random() < 0.8 else rng.choice([2**63, 2**40, 70_000])
        head = bytes([first, masked << 7 | 127]) + struct.pack("!Q", length)
    if not masked:
        return head + payload
    mask = rng.randbytes(4)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def http_bytes(rng: random.Random) -> bytes:
    data = rng.choice(HTTP_HEADS)
    roll = rng.random()
    if roll < 0.15:
        return rng.randbytes(rng.randint(1, 400))
    if roll < 0.25:
        return data.replace(
            b"\r\n\r\n", b"\r\n" + b"a:\r\n" * rng.choice([99, 101, 5000]) + b"\r\n"
        )
    if roll < 0.3:
        return data.replace(b"Host: h", b"Host: h\r\nX: " + b"y" * rng.choice([16_000, 70_000]))
    mutated = mutate(rng, data.decode("latin-1"))
    return mutated.encode("utf-8", "surrogatepass") * rng.choice([1, 1, 2])


# --- cases -------------------------------------------------------------------------------


class Target:
    def __init__(self, host: str, port: int, rng: random.Random) -> None:
        self.host, self.port, self.rng = host, port, rng
        self.ws_url = f"ws://{host}:{port}/socket.io/?EIO=4&transport=websocket"
        self.names = 0

    async def tcp(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    async def request(self, data: bytes) -> bytes:
        """Send raw bytes; what came back until the server closed or went quiet."""
        reader, writer = await self.tcp()
        try:
            writer.write(data)
            return await _read_quietly(reader)
        finally:
            writer.close()

    async def http(self) -> None:
        await self.request(http_bytes(self.rng))

    async def polling(self) -> None:
        rng = self.rng
        handshake = "GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: h\r\n\r\n"
        answer = await self.request(handshake.encode())
        sid = (
            answer.split(b'"sid":"', 1)[1].split(b'"', 1)[0].decode() if b'"sid"' in answer else "x"
        )
        packets = [mutate(rng, rng.choice(SIO_PACKETS)) for _ in range(rng.randint(1, 4))]
        if rng.random() < 0.3:
            packets.append("b" + mutate(rng, base64.b64encode(rng.randbytes(6)).decode()))
        body = "\x1e".join(("4" + p if rng.random() < 0.8 else p) for p in packets)
        data = body.encode("utf-8", "surrogatepass")
        if rng.random() < 0.1:
            data = rng.randbytes(len(data))
        path = f"/socket.io/?EIO=4&transport=polling&sid={sid}"
        head = f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(data)}\r\n\r\n"
        await self.request(head.encode() + data)
        await self.request(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: 1\r\n\r\n1".encode()
        )  # the session ends here if it is still open

    async def frames(self) -> None:
        reader, writer = await self.tcp()
        try:
            key = base64.b64encode(self.rng.randbytes(16)).decode()
            writer.write(
                f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n\r\n".encode()
            )
            await _read_quietly(reader, until=b"\r\n\r\n")
            writer.write(b"".join(ws_frame(self.rng) for _ in range(self.rng.randint(1, 6))))
            await _read_quietly(reader)
        finally:
            writer.close()

    async def packets(self) -> None:
        async with websockets.connect(self.ws_url, max_size=None, open_timeout=5) as ws:
            await ws.recv()
            await ws.send("40")
            for _ in range(self.rng.randint(1, 5)):
                packet = mutate(self.rng, self.rng.choice(SIO_PACKETS))
                if self.rng.random() < 0.8:
                    await ws.send("4" + packet)
                elif self.rng.random() < 0.5:
                    await ws.send(packet)
                else:
                    await ws.send(self.rng.randbytes(self.rng.randint(0, 64)))
            await _drain(ws)

    async def events(self) -> None:
        async with websockets.connect(self.ws_url, max_size=None, open_timeout=5) as ws:
            await ws.recv()
            await ws.send("40")
            self.names += 1
            await ws.send(f'420["user-joined","fuzz{self.names}"]')
            for ack_id in range(1, self.rng.randint(2, 5)):
                event = self.rng.choice(EVENTS)
                body = dumps([event, *event_args(self.rng, event)])
                await ws.send(f"42{ack_id}{body}")
            await _drain(ws)


async def _read_quietly(reader: asyncio.StreamReader, until: bytes | None = None) -> bytes:
    """Read until the server closes, goes quiet for QUIET seconds, or READ_FOR has passed."""
    got = b""
    with contextlib.suppress(TimeoutError, ConnectionError):
        async with asyncio.timeout(READ_FOR):
            while chunk := await asyncio.wait_for(reader.read(65536), QUIET):
                got += chunk
                if until is not None and until in got:
                    break
    return got


async def _drain(ws: websockets.ClientConnection) -> None:
    # Bounded in time too: other cases' joins keep broadcasts coming.
    with contextlib.suppress(TimeoutError, websockets.ConnectionClosed):
        async with asyncio.timeout(READ_FOR):
            while True:
                await asyncio.wait_for(ws.recv(), QUIET)


# --- the server --------------------------------------------------------------------------


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def health(host: str, port: int) -> dict[str, Any]:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), HANG_AFTER)
    finally:
        writer.close()
    parsed: dict[str, Any] = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    return parsed


def _read(log: Path) -> str:
    return log.read_text(errors="replace")


def _log_problems(log: Path) -> list[str]:
    lines = _read(log).splitlines()
    return [line for line in lines if "Traceback" in line or " ERROR " in line]


async def run(cases: int, seed: int, workdir: Path) -> Report:
    """Fuzz a fresh `rtchat serve` with `cases` cases from `seed`; the report says what failed."""
    report = Report()
    log = workdir / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    env.update(
        RTCHAT_DATABASE_URL=f"sqlite:///{workdir / 'fuzz.db'}",
        RTCHAT_RATE_LIMIT="0",  # every event reaches its handler
        PYTHONUNBUFFERED="1",
    )
    with log.open("w") as output:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "rtchat", "serve", "--host", "127.0.0.1", "--port", "0",
            env=env, stdout=output, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
    try:
        host, port = await _listening(log, process)
        rng = random.Random(seed)
        target = Target(host, port, rng)
        await target.events()  # warm up: the database and its files are open from here on
        await asyncio.sleep(0.5)
        report.before = (descriptors(process.pid), (await health(host, port))["connections"])
        started = time.monotonic()
        await _cases(target, cases, rng, report, process)
        report.seconds = time.monotonic() - started
        if process.returncode is None:
            report.after = await _settled(host, port, process.pid, report.before)
            if report.after != report.before:
                report.failures.append(
                    f"leak: descriptors {report.before[0]} -> {report.after[0]}, "
                    f"connections {report.before[1]} -> {report.after[1]}"
                )
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(process.wait(), STOP_WITHIN)
            except TimeoutError:
                process.kill()
                await process.wait()
                report.failures.append(f"no exit within {STOP_WITHIN} s of SIGTERM")
            else:
                if code != 0:
                    report.failures.append(f"exit code {code} after SIGTERM")
        else:
            report.failures.append(f"the server died (exit code {process.returncode})")
    report.failures += [f"server log: {line}" for line in _log_problems(log)[:20]]
    return report


async def _listening(log: Path, process: asyncio.subprocess.Process) -> tuple[str, int]:
    async with asyncio.timeout(20):
        while process.returncode is None:
            for line in _read(log).splitlines():
                if line.startswith("rtchat listening on http://"):
                    host, port = line.rsplit("/", 1)[1].split(":")
                    return host, int(port)
            await asyncio.sleep(0.05)
    raise RuntimeError("rtchat serve did not start:\n" + _read(log))


async def _cases(
    target: Target,
    count: int,
    rng: random.Random,
    report: Report,
    process: asyncio.subprocess.Process,
) -> None:
    kinds: dict[str, Callable[[], Awaitable[None]]] = {
        "http": target.http,
        "polling": target.polling,
        "frames": target.frames,
        "packets": target.packets,
        "events": target.events,
    }
    plan = rng.choices(list(kinds), weights=[2, 2, 2, 2, 3], k=count)
    slots = asyncio.Semaphore(CONCURRENCY)

    async def one(kind: str) -> None:
        async with slots:
            try:
                async with asyncio.timeout(CASE_LIMIT):
                    await kinds[kind]()
            except TimeoutError:  # the client's own waits (an open_timeout of 5 s, ...)
                report.abandoned[kind] += 1
            except (OSError, websockets.WebSocketException):
                pass  # the server refused or closed: what a bad input may well get
            report.cases[kind] += 1

    for start in range(0, count, CHECK_EVERY):
        await asyncio.gather(*(one(kind) for kind in plan[start : start + CHECK_EVERY]))
        if process.returncode is not None:
            return
        try:
            await asyncio.wait_for(health(target.host, target.port), HANG_AFTER)
        except (TimeoutError, OSError, ValueError):
            report.failures.append(f"no answer from /healthz after {start + CHECK_EVERY} cases")
            return


async def _settled(host: str, port: int, pid: int, before: tuple[int, int]) -> tuple[int, int]:
    """Descriptors and connections once they are back to `before`, or after SETTLE_WITHIN."""
    deadline = time.monotonic() + SETTLE_WITHIN
    while True:
        now = (descriptors(pid), (await health(host, port))["connections"])
        if now == before or time.monotonic() > deadline:
            return now
        await asyncio.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="rtchat-fuzz-") as tmp:
        report = asyncio.run(run(args.cases, args.seed, Path(tmp)))
    print(f"fuzz (seed {args.seed}): {report.summary()}")
    for failure in report.failures:
        print("  FAIL " + failure)
    return 1 if report.failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
