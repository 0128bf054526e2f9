"""A `/ws` connection that never says hello is closed 4001 once its time is up. The
chat is composed here as `app.py` composes it, with a hello timeout short enough to wait
for; everything else is the real thing."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from rtchat.clock import SystemClock
from rtchat.engine import Server, SocketServer
from rtchat.engine.plain_ws import WsEndpoint
from rtchat.service import Limits
from rtchat.storage import open_storage
from rtchat.transport.delivery import Deliveries
from rtchat.transport.operations import Operations
from rtchat.transport.ws_server import WsDelivery, WsHandlers
from tests.engine.support import hello_app
from tests.fakes import single_node_chat
from tests.ws_client import WsClient

HELLO_TIMEOUT = 0.3


async def test_no_hello_in_time_closes_4001(tmp_path: Path) -> None:
    storage = await open_storage(f"sqlite:///{tmp_path}/chat.db")
    endpoint = WsEndpoint()
    clock = SystemClock()
    chat = single_node_chat(storage, Deliveries(WsDelivery(endpoint)), clock, Limits())
    await chat.start(storage)
    operations = Operations(chat, clock, event_rate=100, event_burst=100)
    WsHandlers(endpoint, operations, hello_timeout=HELLO_TIMEOUT)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = Server(SocketServer(), hello_app, endpoints=(endpoint,))
    await server.start(sock)
    try:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        loop = asyncio.get_running_loop()
        # Before the silent client opens: its deadline starts at its own upgrade, and
        # opening the second client can take a good part of the timeout on a busy machine.
        opened = loop.time()
        silent, greeted = await WsClient.open(url), await WsClient.open(url)
        await greeted.hello()
        assert await silent.closed() == (4001, "no hello in time")
        assert loop.time() - opened >= HELLO_TIMEOUT - 0.01
        assert silent.frames == []
        # The one that said hello in time stays, past the timeout.
        assert (await greeted.call("session"))["ok"] is True
        await greeted.close()
    finally:
        await server.stop(grace=1)
        sock.close()
        await chat.close()
        await storage.close()
