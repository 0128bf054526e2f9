"""One output budget for every connection of a node: a Socket.IO client and a `/ws` client
that both stop reading are, together, over `RTCHAT_OUTPUT_BUDGET_BYTES` while each is
under its own bound (`RTCHAT_MAX_BUFFERED_BYTES`, set to the same size): the first one
dropped goes for the budget, and a client that reads gets everything."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import websockets

from rtchat.app import Application
from rtchat.settings import Settings
from tests.support import ChatClient, ok, running_server
from tests.ws_client import SUBPROTOCOL, ws_url

MIB = 1024 * 1024
BUDGET = 3 * MIB
TEXT = "b" * 4000
MOST = 5000  # messages: 20 MB to each stalled client, past any loopback buffers


async def _stalled_socketio(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
        max_queue=1,
        max_size=None,
    )
    await ws.recv()  # OPEN
    await ws.send("40")
    await ws.recv()  # CONNECT: in `general` from here, as every connection in the seed
    return ws  # and never read again: one frame queued, then the socket is not read


async def _stalled_ws(url: str) -> websockets.ClientConnection:
    ws = await websockets.connect(
        ws_url(url), subprotocols=[websockets.Subprotocol(SUBPROTOCOL)], max_queue=1
    )
    await ws.send(orjson.dumps({"id": 1, "op": "hello", "data": {"username": "stalled"}}).decode())
    while "id" not in orjson.loads(await ws.recv()):
        pass
    return ws


def _dropped(application: Application) -> dict[str, int]:
    """Connections dropped for being behind, by reason, of both transports."""
    both = dict(application.sio.eio.dropped)
    for endpoint in application.endpoints:
        for reason, count in endpoint.dropped.items():
            both[reason] = both.get(reason, 0) + count
    return both


async def test_both_transports_share_one_output_budget(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/rtchat.db",
        rate_limit=0,
        max_buffered_bytes=BUDGET,
        output_budget_bytes=BUDGET,
    )
    async with running_server(settings) as (url, application):
        socketio_stalled = await _stalled_socketio(url)
        ws_stalled = await _stalled_ws(url)
        sender = await ChatClient(url).connect()
        await sender.join("sender")
        sent = 0
        while sent < MOST and not _dropped(application):
            ok(await sender.call("send-message", {"room": "general", "text": TEXT}))
            sent += 1
        dropped = _dropped(application)
        assert dropped == {"output budget": 1}, (dropped, sent)
        await sender.wait_for("receive-message", lambda d: d["seq"] == sent)
        await sender.close()
        for ws in (socketio_stalled, ws_stalled):
            ws.transport.abort()
        await asyncio.sleep(0)
