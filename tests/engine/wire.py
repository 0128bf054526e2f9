"""Raw Engine.IO over HTTP (aiohttp) and WebSocket (websockets), for the compliance tests."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import websockets

WAIT = 3.0


def eio_url(base: str, transport: str | None = "polling", **params: str) -> str:
    query = "EIO=4" + (f"&transport={transport}" if transport else "")
    query += "".join(f"&{k}={v}" for k, v in params.items())
    return f"{base}/socket.io/?{query}"


def ws_url(base: str, **params: str) -> str:
    return eio_url(base.replace("http", "ws", 1), "websocket", **params)


async def request(
    http: aiohttp.ClientSession, method: str, url: str, body: bytes | str | None = None
) -> tuple[int, str]:
    async with http.request(method, url, data=body) as response:
        return response.status, await response.text()


async def open_polling(http: aiohttp.ClientSession, base: str) -> tuple[str, dict[str, Any]]:
    status, text = await request(http, "GET", eio_url(base))
    assert status == 200, text
    assert text.startswith("0")
    handshake: dict[str, Any] = orjson.loads(text[1:])
    return handshake["sid"], handshake


async def poll(http: aiohttp.ClientSession, base: str, sid: str) -> tuple[int, str]:
    return await request(http, "GET", eio_url(base, sid=sid))


async def post(http: aiohttp.ClientSession, base: str, sid: str, body: str) -> tuple[int, str]:
    return await request(http, "POST", eio_url(base, sid=sid), body)


async def recv(ws: websockets.ClientConnection) -> str | bytes:
    return await asyncio.wait_for(ws.recv(), WAIT)


async def open_ws(base: str, **params: str) -> tuple[websockets.ClientConnection, dict[str, Any]]:
    """A WebSocket session, its handshake read."""
    ws = await websockets.connect(ws_url(base, **params), max_size=None)
    first = await recv(ws)
    assert isinstance(first, str)
    assert first.startswith("0")
    return ws, orjson.loads(first[1:])
