"""`rtchat serve --workers 2` on one port: the kernel spreads clients over both workers,
long-polling works across them, messages cross between them, a worker that dies is
started again, and SIGTERM stops everything with exit code 0."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.cluster.conftest import Connect
from tests.cluster.nodes import REPO
from tests.redis_support import SHARED_URL, eventually, free_port, new_prefix
from tests.reliable_client import ReliableClient
from tests.support import ok, sentinel


@dataclass
class Workers:
    url: str
    prefix: str
    process: asyncio.subprocess.Process
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[Workers]:
    port, prefix = free_port(), new_prefix()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "RTCHAT_DATABASE_URL": f"sqlite:///{tmp_path}/chat.db",
            "RTCHAT_REDIS_URL": SHARED_URL,
            "RTCHAT_REDIS_PREFIX": prefix,
            "RTCHAT_NODE_ID": "w",
            "RTCHAT_RATE_LIMIT": "0",
        }
    )
    log = tmp_path / "workers.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rtchat",
            "serve",
            "--workers",
            "2",
            "--port",
            str(port),
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    running = Workers(f"http://127.0.0.1:{port}", prefix, process, log)
    try:
        await eventually(lambda: "rtchat listening on" in running.text(), within=30)
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()
        # The workers die with their supervisor (PR_SET_PDEATHSIG); give them a moment.
        await asyncio.sleep(0.2)


async def handshake_tags(url: str, count: int) -> list[str]:
    """The node tags of `count` new Engine.IO sessions, each on a new TCP connection."""
    tags = []
    for _ in range(count):
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{url}/socket.io/?EIO=4&transport=polling") as answer,
        ):
            body = await answer.text()
        sid = body.split('"sid":"', 1)[1].split('"', 1)[0]
        tags.append(sid.split(".", 1)[0])
    return tags


async def test_two_workers_share_the_port_and_the_chat(workers: Workers, connect: Connect) -> None:
    tags = await handshake_tags(workers.url, 24)
    assert len(set(tags)) == 2, tags  # the kernel spread new connections over both workers
    clients = [await connect(workers.url, transports=["polling"]) for _ in range(6)]
    for i, client in enumerate(clients):
        await client.join(f"user{i}")
    sent = ok(await clients[0].call("send-message", "to everyone"))
    await sentinel(clients[1], *clients)
    for client in clients:
        assert next(m["id"] for m in client.events("receive-message")) == sent["id"]
    websocket = await connect(workers.url, transports=["websocket"])
    await websocket.join("ws")
    await sentinel(websocket, *clients)

    # A worker that dies is started again, with a new tag; the chat goes on.
    client = aioredis.Redis(host="127.0.0.1", port=6379)
    try:
        before = {k async for k in client.scan_iter(match=f"{workers.prefix}:peer:*")}
        assert len(before) == 2
        pids = [int(p) for p in (await _children(workers.process.pid))]
        assert len(pids) == 2
        os.kill(pids[0], signal.SIGKILL)
        await eventually(lambda: workers.text().count("starting it again") == 1, within=10)

        async def peers() -> set[bytes]:
            return {k async for k in client.scan_iter(match=f"{workers.prefix}:peer:*")}

        for _ in range(100):
            now = await peers()
            if len(now - before) == 1:
                break
            await asyncio.sleep(0.1)
        assert len(now - before) == 1, (before, now)
    finally:
        await client.aclose()
    later = [await connect(workers.url, transports=["polling"]) for _ in range(6)]
    for i, late in enumerate(later):
        await late.join(f"later{i}")
    await sentinel(later[0], *later)

    workers.process.send_signal(signal.SIGTERM)
    async with asyncio.timeout(20):
        assert await workers.process.wait() == 0
    assert "Traceback" not in workers.text()
    assert await _children(workers.process.pid) == []


async def test_a_worker_killed_mid_stream_loses_nothing(workers: Workers) -> None:
    total = 150
    # WebSocket clients, each on a TCP connection of its own: the kernel spreads them, and
    # they are opened until both workers hold some (bounded).
    members: list[ReliableClient] = []
    for i in range(16):
        member = ReliableClient(workers.url, f"member{i}", transports=["websocket"])
        await member.start()
        members.append(member)
        if i >= 3 and len({_tag(m) for m in members}) == 2:
            break
    assert len({_tag(m) for m in members}) == 2
    sender = members[0]
    doomed = _tag(sender)
    victims = [m for m in members if _tag(m) == doomed]
    pid = await _worker_pid(workers, doomed)

    for i in range(total):
        await sender.send(f"m{i}")
        if i == total // 3:
            os.kill(pid, signal.SIGKILL)  # the sender's own worker: it must move too
        await asyncio.sleep(0.004)
    await eventually(lambda: not sender.outbox, within=30)

    for member in members:
        await eventually(lambda m=member: m.last_seq("general") >= total, within=30)  # type: ignore[misc]
        messages = member.messages("general")
        assert [m["seq"] for m in messages] == list(range(1, total + 1)), member.name
        # Each text once. Their order is the order they reached the server: the sender's
        # outbox resends what the kill interrupted while it goes on sending new ones.
        assert sorted(m["message"] for m in messages) == sorted(f"m{i}" for i in range(total))
        assert member.problems == [], member.name
        for live in member.live_per_connection():
            assert live == sorted(set(live)), member.name
    for victim in victims:  # they reconnected: to the other worker or the restarted one
        assert victim._connections >= 2, victim.name
        assert _tag(victim) != doomed, victim.name
    for member in members:
        await member.stop()
    assert workers.text().count("starting it again") == 1, workers.text()
    assert "Traceback" not in workers.text()


def _tag(client: ReliableClient) -> str:
    sid = client.sio.eio.sid
    assert sid is not None
    return str(sid).split(".", 1)[0]


async def _worker_pid(workers: Workers, tag: str) -> int:
    """The worker whose sids start with `tag`: the one listening on the internal port that
    tag's peer entry in Redis names."""
    client = aioredis.Redis(host="127.0.0.1", port=6379)
    try:
        address = await client.get(f"{workers.prefix}:peer:{tag}")
    finally:
        await client.aclose()
    assert address, tag
    port = int(address.decode().rsplit(":", 1)[1])
    found = _listener(port, await _children(workers.process.pid))
    if found is not None:
        return found
    raise AssertionError(f"no worker listens on {port}")


def _listener(port: int, pids: list[str]) -> int | None:
    """Which of `pids` holds the socket listening on `port` (from /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":  # LISTEN
                inodes.add(fields[9])
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                return int(pid)
    return None


async def test_ctrl_c_stops_every_worker(workers: Workers) -> None:
    pids = [int(p) for p in await _children(workers.process.pid)]
    assert len(pids) == 2
    workers.process.send_signal(signal.SIGINT)  # what a terminal's Ctrl-C sends
    async with asyncio.timeout(20):
        assert await workers.process.wait() == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


async def _children(pid: int) -> list[str]:
    proc = await asyncio.create_subprocess_exec(
        "pgrep", "-P", str(pid), stdout=asyncio.subprocess.PIPE
    )
    out, _ = await proc.communicate()
    return out.decode().split()


async def test_workers_without_redis_are_refused_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCHAT_")}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtchat",
        "serve",
        "--workers",
        "2",
        "--port",
        "0",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    async with asyncio.timeout(20):
        out, _ = await process.communicate()
    assert process.returncode == 2
    assert out.decode().count("\n") == 1
    assert "RTCHAT_REDIS_URL" in out.decode()
