"""`rtchat serve` as an operator runs it: JSON logs, and a SIGTERM under load that drains."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import socketio

from rtchat.settings import Settings
from rtchat.storage import open_storage
from tests.support import ChatClient, ok

SHUTDOWN_TIMEOUT = 5.0
CLIENTS = 4  # the last one over long-polling
IN_FLIGHT = 20  # messages each client has sent and not yet had answered
ACKED_BEFORE_STOP = 300  # the stop comes once this many are acknowledged, mid-stream
WAIT = 15.0


@contextlib.asynccontextmanager
async def _serving(
    database: Path, log: Path, *, port: int = 0, env: dict[str, str] | None = None
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`rtchat serve` on `port`, stderr to `log`; killed afterwards if still running."""
    with log.open("wb") as stderr:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "rtchat", "serve", "--host", "127.0.0.1", "--port", str(port)),
            stdout=asyncio.subprocess.PIPE,
            stderr=stderr,
            env={
                **os.environ,
                "RTCHAT_DATABASE_URL": f"sqlite:///{database}",
                "RTCHAT_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
                **(env or {}),
            },
        )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), WAIT)
        assert line.startswith(b"rtchat listening on "), line
        yield process, line.split()[-1].decode()
    finally:
        if process.returncode is None:
            process.kill()
        await asyncio.wait_for(process.wait(), WAIT)


async def test_json_logs_one_line_per_connection_event_none_per_message(tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    messages = 50
    env = {"RTCHAT_LOG_FORMAT": "json", "RTCHAT_NODE_ID": "json-node", "RTCHAT_RATE_LIMIT": "0"}
    async with _serving(tmp_path / "chat.db", log, env=env) as (process, url):
        ws = await ChatClient(url, transports=["websocket"]).connect()
        polling = await ChatClient(url, transports=["polling"]).connect()
        await ws.join("alice")
        for i in range(messages):
            ok(await ws.call("send-message", {"room": "general", "text": f"said {i}"}))
        await polling.wait_for("receive-message", lambda d: d["message"] == f"said {messages - 1}")
        await ws.close()
        await polling.close()
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), WAIT) == 0
    lines = [orjson.loads(line) for line in log.read_text().splitlines()]
    for line in lines:
        assert {"time", "level", "logger", "message", "node"} <= line.keys(), line
        assert line["node"] == "json-node"
    events = [line for line in lines if line["logger"] == "rtchat.connections"]
    opened = sorted(e["transport"] for e in events if e["event"] == "connect")
    closed = sorted(e["transport"] for e in events if e["event"] == "disconnect")
    assert opened == closed == ["polling", "websocket"]
    assert all(e["level"] == "info" and e["sid"] for e in events)
    assert all(e["reason"] for e in events if e["event"] == "disconnect")
    assert not [line for line in lines if "said" in orjson.dumps(line).decode()]
    assert len(lines) < messages  # a few start-up and stop lines, none per message


class _Tally:
    """Acknowledgements of all senders together; `reached` is set at ACKED_BEFORE_STOP."""

    def __init__(self) -> None:
        self.count = 0
        self.reached = asyncio.Event()

    def answered(self) -> None:
        self.count += 1
        if self.count >= ACKED_BEFORE_STOP:
            self.reached.set()


class _Sender:
    """A client that keeps IN_FLIGHT messages unanswered until its connection goes, and
    remembers which were acknowledged; it reconnects by itself, as the seed's client does."""

    def __init__(self, url: str, name: str, transports: list[str], tally: _Tally) -> None:
        self.url, self.name, self.transports, self.tally = url, name, transports, tally
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.1, reconnection_delay_max=0.5
        )
        self.acked: set[str] = set()
        self.slots = asyncio.Semaphore(IN_FLIGHT)
        self.failed: list[Any] = []
        self.connects = 0
        self.gone = asyncio.Event()
        self.back = asyncio.Event()
        self.sio.on("connect", self._connected)
        self.sio.on("disconnect", self._disconnected)

    async def _connected(self) -> None:
        self.connects += 1
        if self.connects > 1:
            self.back.set()

    async def _disconnected(self, reason: Any = None) -> None:
        self.gone.set()
        # What was in flight will not be answered now (what the server had not taken in is
        # dropped): wake the sending loop so that it ends.
        for _ in range(IN_FLIGHT):
            self.slots.release()

    async def start(self) -> None:
        await self.sio.connect(self.url, transports=self.transports, wait_timeout=WAIT)
        ok(await self.sio.call("user-joined", self.name, timeout=WAIT))

    async def send_until_gone(self) -> None:
        tally = self.tally
        slots = self.slots
        for i in itertools.count():
            await slots.acquire()
            if self.gone.is_set():
                return
            client_id = f"{self.name}-{i}"

            def answered(answer: Any, client_id: str = client_id) -> None:
                if answer.get("ok"):
                    self.acked.add(client_id)
                    tally.answered()
                else:
                    self.failed.append(answer)
                slots.release()

            payload = {"room": "general", "text": client_id, "clientId": client_id}
            try:
                await self.sio.emit("send-message", payload, callback=answered)
            except socketio.exceptions.BadNamespaceError:
                return  # the connection went between the check and the emit


async def test_sigterm_under_load_drains_every_acknowledged_message_is_stored(
    tmp_path: Path,
) -> None:
    database, env = tmp_path / "chat.db", {"RTCHAT_RATE_LIMIT": "0"}
    senders: list[_Sender] = []
    tally = _Tally()
    async with _serving(database, tmp_path / "first.log", env=env) as (process, url):
        port = int(url.rsplit(":", 1)[1])
        for i in range(CLIENTS):
            transports = ["polling"] if i == CLIENTS - 1 else ["websocket"]
            senders.append(_Sender(url, f"sender{i}", transports, tally))
            await senders[-1].start()
        sending = [asyncio.create_task(s.send_until_gone()) for s in senders]
        await asyncio.wait_for(tally.reached.wait(), WAIT)
        stopped_at = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(process.wait(), SHUTDOWN_TIMEOUT + 5)
        took = time.monotonic() - stopped_at
        assert code == 0
        assert took < SHUTDOWN_TIMEOUT
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(s.gone.wait() for s in senders))
            await asyncio.gather(*sending)
    assert [s.failed for s in senders] == [[]] * CLIENTS

    # Another node on the same port and file: the clients come back to it by themselves.
    # Not the long-polling one: its session ended with an Engine.IO close packet, after
    # which Socket.IO's JavaScript client reconnects but python-socketio's does not.
    async with _serving(database, tmp_path / "second.log", port=port, env=env):
        async with asyncio.timeout(WAIT):
            await asyncio.gather(*(s.back.wait() for s in senders[:-1]))
        for sender in senders:
            await sender.sio.disconnect()

    storage = await open_storage(Settings(database_url=f"sqlite:///{database}").database_url)
    try:
        stored = {m.client_id for m in await storage.messages.after("general", 0, 1_000_000)}
    finally:
        await storage.close()
    acked = set().union(*(s.acked for s in senders))
    assert len(acked) >= ACKED_BEFORE_STOP
    assert acked - stored == set()  # an acknowledged message is stored
    assert stored - acked == set()  # and a stored one was acknowledged before the close
