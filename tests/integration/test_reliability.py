"""No message lost, none shown twice: across a cut connection, a server restart, and a
message sent while disconnected. The network cut is real: a TCP proxy drops the sockets.

"Once" is counted where the server could break it: every live `receive-message` and
every message a `sync` answered, not the client's seq-keyed view, in which a duplicate
would collapse into one."""

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


async def _until(
    condition: Callable[[], bool], *clients: ReliableClient, within: float = WAIT
) -> None:
    """Wait for `condition`; on a time-out, say what went wrong in `clients` meanwhile."""
    step = 0.02
    for _ in range(int(within / step)):
        if condition():
            return
        await asyncio.sleep(step)
    problems = [problem for client in clients for problem in client.problems]
    raise AssertionError(f"not true within {within} s; the clients saw: {problems}")


@pytest.fixture
async def unlimited_server(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/chat.db", rate_limit=0)
    async with running_server(settings) as (url, _):
        yield url


def _texts(client: ReliableClient) -> list[str]:
    return [m["message"] for m in client.messages()]


def _each_arrived_once(client: ReliableClient) -> None:
    """Every message the client holds reached it exactly once, live or by sync."""
    counts = {m["message"]: client.arrivals(m["id"]) for m in client.messages()}
    assert counts == dict.fromkeys(counts, 1), counts
    assert client.problems == []


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
            await _until(lambda: _texts(receiver) == ["before the cut"], receiver, sender)

            proxy.down = True
            proxy.cut()
            await _until(lambda: not receiver.synced.is_set(), receiver)
            sent = [f"missed {i}" for i in range(100)]
            for text in sent:
                await sender.send(text)
            assert not sender.outbox

            proxy.down = False
            await _until(lambda: len(receiver.messages()) == 101, receiver, sender)
            assert _texts(receiver) == ["before the cut", *sent]
            assert [m["seq"] for m in receiver.messages()] == list(range(1, 102))
            # Missed messages came by sync only: the cut connection heard none of them.
            assert [m["message"] for m in receiver.synced_messages] == sent
            await sender.send("after")
            await _until(lambda: _texts(receiver)[-1:] == ["after"], receiver, sender)
            # Every message reached the receiver once live or once by sync, never as two.
            _each_arrived_once(receiver)
            assert sender.problems == []
        finally:
            await receiver.stop()
            await sender.stop()


async def test_message_sent_while_disconnected_arrives_exactly_once(
    unlimited_server: str,
) -> None:
    async with cuttable(unlimited_server, frames=True) as (proxy, via_proxy):
        watcher = ReliableClient(unlimited_server, "watcher")
        # WebSocket only: the proxy reads WebSocket frames to drop exactly one ack.
        writer = ReliableClient(via_proxy, "writer", transports=["websocket"])
        await watcher.start()
        await writer.start()
        try:
            proxy.down = True
            proxy.cut()
            await _until(lambda: not writer.synced.is_set(), writer)
            await writer.send("written offline")
            assert list(writer.outbox.values()) == [("general", "written offline")]
            proxy.down = False
            await _until(lambda: writer.synced.is_set() and not writer.outbox, writer)

            # The network fails right after the server stored and answered this one: the
            # writer hears neither the ack nor the broadcast, so it cannot know and sends it
            # again with the same client id after reconnecting.
            lost = proxy.cut_on(lambda payload: b'"ack lost"' in payload)
            await writer.send("ack lost")
            frame = await asyncio.wait_for(lost, WAIT)
            assert frame.startswith((b"43", b'42["receive-message"')), frame
            await _until(lambda: not writer.outbox and writer.synced.is_set(), writer)

            # Whatever a second broadcast of either would have sent the watcher came
            # before this sentinel.
            await writer.send("sentinel")
            await _until(lambda: _texts(watcher)[-1:] == ["sentinel"], watcher, writer)
            assert _texts(watcher) == ["written offline", "ack lost", "sentinel"]
            live = [m["message"] for m in watcher.deliveries]
            assert live == ["written offline", "ack lost", "sentinel"], "broadcast twice"
            _each_arrived_once(watcher)
            assert _texts(writer) == ["written offline", "ack lost", "sentinel"]
            # The writer learnt of "ack lost" by sync (and the resend's answer), never live.
            assert "ack lost" not in [m["message"] for m in writer.deliveries]
            _each_arrived_once(writer)
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
                await _until(lambda: len(bob.messages()) == 5, bob, alice)
                ids = (await alice.sio.call("session"))["data"]["user"]
            # The server is down; bob's network stays down until alice has spoken again.
            proxy.down = True
            proxy.cut()
            async with _server_process(port, database):
                await _until(alice.synced.is_set, alice)
                after = (await alice.sio.call("session"))["data"]["user"]
                assert after == ids, "the token must survive the restart"
                for i in range(5):
                    await alice.send(f"after restart {i}")
                assert not alice.outbox
                proxy.down = False
                await _until(lambda: len(bob.messages()) == 10, bob, alice)
                expected = [f"before restart {i}" for i in range(5)]
                expected += [f"after restart {i}" for i in range(5)]
                assert _texts(bob) == expected
                assert [m["seq"] for m in bob.messages()] == list(range(1, 11))
                history = await bob.sio.call("join-room", {"room": "general"})
                assert [m["message"] for m in history["data"]["messages"]] == expected
                _each_arrived_once(bob)
                _each_arrived_once(alice)
        finally:
            await bob.stop()
            await alice.stop()
