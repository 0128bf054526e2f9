"""Draining (what SIGTERM starts): what was taken in is answered before the close, what
comes after is not taken in, and a client that went silent holds nothing up."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import websockets

from rtchat.engine import SocketServer
from tests.engine.support import running_engine
from tests.engine.wire import open_polling, open_ws, post, recv

WITHIN = 5.0  # seconds the drains here may take; each should need far less


def _gated_server() -> tuple[SocketServer, asyncio.Event, asyncio.Event]:
    """`slow` answers "done" once the gate opens; `started` is set when it begins."""
    sio = SocketServer()
    started, gate = asyncio.Event(), asyncio.Event()

    async def event(sid: str, name: str, args: list[Any], ack: bool) -> object:
        if name == "slow":
            started.set()
            await gate.wait()
            return "done"
        return "answered"

    sio.on_event(event)
    return sio, started, gate


async def test_an_event_taken_in_is_answered_before_the_going_away_close() -> None:
    sio, started, gate = _gated_server()
    async with running_engine(sio) as base:
        ws, _ = await open_ws(base)
        await ws.send("40")
        assert str(await recv(ws)).startswith("40")
        await ws.send('421["slow"]')
        await started.wait()
        draining = asyncio.create_task(sio.drain(WITHIN))
        await asyncio.sleep(0)  # one loop turn: the drain has begun (it sets the flag first)
        assert sio.draining
        await ws.send('422["fast"]')  # after the drain began: not taken in
        gate.set()
        assert await recv(ws) == '431["done"]'
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
        await asyncio.wait_for(draining, WITHIN)
        assert sio.sessions == {}


async def test_a_long_polling_client_that_stopped_polling_does_not_hold_the_drain() -> None:
    sio, _, _ = _gated_server()
    async with running_engine(sio) as base, aiohttp.ClientSession() as http:
        sid, _ = await open_polling(http, base)
        assert (await post(http, base, sid, "40"))[0] == 200
        # The CONNECT ack waits for a GET that never comes.
        loop = asyncio.get_running_loop()
        began = loop.time()
        await asyncio.wait_for(sio.drain(WITHIN), WITHIN)
        assert sio.sessions == {}
        assert loop.time() - began < WITHIN / 2
