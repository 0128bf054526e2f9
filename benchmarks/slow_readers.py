"""Server memory when many clients stop reading: `rtchat serve`'s RSS while 200 joined
WebSocket clients never read again and one sender fills the room.

    .venv/bin/python benchmarks/slow_readers.py                 # the defaults
    .venv/bin/python benchmarks/slow_readers.py --budget 0      # no output budget

Each reader connects, joins `general`, and then stops reading (its transport paused: the
kernel's buffers fill, then the server's). The sender posts `--messages` messages of
4,000 characters, a window of 50 unacknowledged at a time, reading everything it is sent.
The server's RSS (/proc/<pid>/status) is sampled every 50 ms; the report gives it before
the readers connect, once they have joined, at its peak, and 5 s after the sender is done,
with the drops the server logged. Loopback only, bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path

READERS = 200
MESSAGES = 3000
TEXT = "x" * 4000
WINDOW = 50


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    kb = int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1))  # type: ignore[union-attr]
    return kb / 1024


async def websocket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
        "Sec-WebSocket-Version: 13\r\n\r\n".encode()
    )
    await reader.readuntil(b"\r\n\r\n")
    return reader, writer


def client_frame(text: str) -> bytes:
    data = text.encode()
    mask = os.urandom(4)
    n = len(data)
    head = bytes([0x81])
    head += bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


async def server_frame(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(2)
    n = head[1] & 0x7F
    if n == 126:
        n = int.from_bytes(await reader.readexactly(2))
    elif n == 127:
        n = int.from_bytes(await reader.readexactly(8))
    return await reader.readexactly(n)


async def until(reader: asyncio.StreamReader, prefix: bytes) -> bytes:
    while not (payload := await server_frame(reader)).startswith(prefix):
        pass
    return payload


async def join(port: int, name: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await websocket(port)
    await server_frame(reader)  # Engine.IO open
    writer.write(client_frame("40"))
    await until(reader, b"40")
    writer.write(client_frame(f'420["user-joined","{name}"]'))
    await until(reader, b"430")
    return reader, writer


async def measure(args: argparse.Namespace) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    env["RTCHAT_RATE_LIMIT"] = "0"
    if args.budget is not None:
        # 0: as good as no budget (the per-connection bound still holds).
        env["RTCHAT_OUTPUT_BUDGET_BYTES"] = str(args.budget or 2**50)
    with tempfile.TemporaryDirectory() as tmp:
        env["RTCHAT_DATABASE_URL"] = f"sqlite:///{tmp}/bench.db"
        log = Path(tmp) / "server.log"
        with log.open("w") as output:
            server = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "rtchat",
                "serve",
                "--port",
                str(args.port),
                env=env,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )
        try:
            for _ in range(200):
                if "listening" in log.read_text():
                    break
                await asyncio.sleep(0.05)
            samples: list[float] = []
            sampling = True

            async def sample() -> None:
                while sampling:
                    samples.append(rss_mb(server.pid))
                    await asyncio.sleep(0.05)

            sampler = asyncio.create_task(sample())
            await asyncio.sleep(0.5)
            idle = rss_mb(server.pid)
            readers = [await join(args.port, f"reader{i}") for i in range(args.readers)]
            for _, writer in readers:
                writer.transport.pause_reading()  # never reads again
            joined = rss_mb(server.pid)
            reader, writer = await join(args.port, "sender")
            started = time.monotonic()
            acked = 0
            sent = 0

            async def read_all() -> None:
                nonlocal acked
                while acked < args.messages:
                    if (await server_frame(reader)).startswith(b"43"):
                        acked += 1

            drain = asyncio.create_task(read_all())
            while sent < args.messages:
                if sent - acked < WINDOW:
                    writer.write(client_frame(f'42{sent + 1}["send-message","{TEXT}"]'))
                    sent += 1
                else:
                    await asyncio.sleep(0.001)
            await asyncio.wait_for(drain, 120)
            elapsed = time.monotonic() - started
            await asyncio.sleep(5)
            after = rss_mb(server.pid)
            sampling = False
            await sampler
            text = log.read_text()
            for _, w in readers:
                w.transport.abort()
            writer.close()
            return {
                "readers": args.readers,
                "messages": args.messages,
                "budget": env.get("RTCHAT_OUTPUT_BUDGET_BYTES", "default"),
                "rss_idle_mb": round(idle, 1),
                "rss_joined_mb": round(joined, 1),
                "rss_peak_mb": round(max(samples), 1),
                "rss_after_mb": round(after, 1),
                "dropped_slow_consumer": text.count(": slow consumer ("),
                "dropped_output_budget": text.count(": output budget ("),
                "send_seconds": round(elapsed, 2),
            }
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), 10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--readers", type=int, default=READERS)
    parser.add_argument("--messages", type=int, default=MESSAGES)
    parser.add_argument("--port", type=int, default=3117)
    parser.add_argument(
        "--budget", type=int, default=None, help="RTCHAT_OUTPUT_BUDGET_BYTES (0: none)"
    )
    result = asyncio.run(measure(parser.parse_args()))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
