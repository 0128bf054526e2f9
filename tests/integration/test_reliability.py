"""No message lost, none shown twice: across a cut connection, a server restart, and a
message sent while disconnected. The network cut is real: a TCP proxy drops the sockets."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from rtchat.settings import Settings
from tests.proxy import cuttable
from tests.reliable_client import ReliableClient
from tests.support import running_server

WAIT = 15.0


async def _until(condition: Callable[[], bool], within: float = WAIT) -> None:
    step = 0.02
    for _ in range(int(within / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"not true within {within} s")


@pytest.fixture
async def unlimited_server(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/chat.db", rate_limit=0)
    async with running_server(settings) as (url, _):
        yield url


def _texts(client: ReliableClient) -> list[str]:
    return [m["message"] for m in client.messages()]


async def test_cut_connection_gets_every_missed_message_once_in_order(
    unlimited_server: str,
) -> None:
    async with cuttable(unlimited_server) as (proxy, via_proxy):
        sender = ReliableClient(unlimited_server, "sender")
        receiver = ReliableClient(via_proxy, "receiver")
        await sender.start()
        await receiver.start()
        try:
            await sender.send("before the cut")
            await _until(lambda: _texts(receiver) == ["before the cut"])

            proxy.down = True
            proxy.cut()
            await _until(lambda: not receiver.synced.is_set())
            sent = [f"missed {i}" for i in range(100)]
            for text in sent:
                await sender.send(text)
            assert not sender.outbox

            proxy.down = False
            await _until(lambda: len(receiver.messages()) == 101)
            assert _texts(receiver) == ["before the cut", *sent]
            assert [m["seq"] for m in receiver.messages()] == list(range(1, 102))
            # Every message reached the receiver once live or once by sync, never as two.
            assert len({m["id"] for m in receiver.messages()}) == 101
            await sender.send("after")
            await _until(lambda: _texts(receiver)[-1:] == ["after"])
        finally:
            await receiver.stop()
            await sender.stop()


async def test_message_sent_while_disconnected_arrives_exactly_once(
    unlimited_server: str,
) -> None:
    async with cuttable(unlimited_server) as (proxy, via_proxy):
        watcher = ReliableClient(unlimited_server, "watcher")
        writer = ReliableClient(via_proxy, "writer")
        await watcher.start()
        await writer.start()
        try:
            proxy.down = True
            proxy.cut()
            await _until(lambda: not writer.synced.is_set())
            await writer.send("written offline")
            assert list(writer.outbox.values()) == [("general", "written offline")]

            # The ack of this one is lost with the connection: the server may have it,
            # the writer cannot know, so it sends it again with the same client id.
            proxy.down = False
            await _until(lambda: writer.synced.is_set() and not writer.outbox)
            in_flight = asyncio.create_task(writer.send("ack lost"))
            await asyncio.sleep(0.01)
            proxy.down = True
            proxy.cut()
            await in_flight
            proxy.down = False
            await _until(lambda: not writer.outbox and writer.synced.is_set())

            await _until(lambda: _texts(watcher) == ["written offline", "ack lost"])
            for text in ("written offline", "ack lost"):
                live = [m for m in watcher.deliveries if m["message"] == text]
                assert len(live) == 1, f"{text!r} was broadcast {len(live)} times"
            assert _texts(writer) == ["written offline", "ack lost"]
        finally:
            await writer.stop()
            await watcher.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.asynccontextmanager
async def _server_process(port: int, database: Path) -> AsyncIterator[None]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "rtchat",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        env={**os.environ, "RTCHAT_DATABASE_URL": f"sqlite:///{database}"},
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        line = await asyncio.wait_for(process.stdout.readline(), WAIT)
        assert line.startswith(b"rtchat listening on "), line
        yield
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), WAIT) == 0


async def test_server_restart_keeps_identity_history_and_missed_messages(
    tmp_path: Path,
) -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    database = tmp_path / "chat.db"
    async with cuttable(url) as (proxy, via_proxy):
        alice = ReliableClient(url, "alice")
        bob = ReliableClient(via_proxy, "bob")
        try:
            async with _server_process(port, database):
                await alice.start()
                await bob.start()
                for i in range(5):
                    await alice.send(f"before restart {i}")
                await _until(lambda: len(bob.messages()) == 5)
                ids = (await alice.sio.call("session"))["data"]["user"]
            # The server is down; bob's network stays down until alice has spoken again.
            proxy.down = True
            proxy.cut()
            async with _server_process(port, database):
                await _until(alice.synced.is_set)
                after = (await alice.sio.call("session"))["data"]["user"]
                assert after == ids, "the token must survive the restart"
                for i in range(5):
                    await alice.send(f"after restart {i}")
                assert not alice.outbox
                proxy.down = False
                await _until(lambda: len(bob.messages()) == 10)
                expected = [f"before restart {i}" for i in range(5)]
                expected += [f"after restart {i}" for i in range(5)]
                assert _texts(bob) == expected
                assert [m["seq"] for m in bob.messages()] == list(range(1, 11))
                history = await bob.sio.call("join-room", {"room": "general"})
                assert [m["message"] for m in history["data"]["messages"]] == expected
        finally:
            await bob.stop()
            await alice.stop()
