"""Raw Engine.IO over HTTP (aiohttp) and WebSocket (websockets), for the compliance tests."""

from __future__ import annotations

import asyncio
import base64
import os
import struct
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


# --- WebSocket at the byte level, for what a WebSocket library will not send -------------


def masked(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A client frame (masked, as RFC 6455 requires of clients)."""
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def host_port(base: str) -> tuple[str, int]:
    host, port = base.removeprefix("http://").split(":")
    return host, int(port)


async def raw_ws(
    base: str, *, headers: str = "", **params: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A WebSocket to the engine over a plain TCP connection: the reader, the writer and the
    response head (the 101 when it worked)."""
    host, port = host_port(base)
    reader, writer = await asyncio.open_connection(host, port)
    query = "EIO=4&transport=websocket" + "".join(f"&{k}={v}" for k, v in params.items())
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /socket.io/?{query} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{headers}\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    return reader, writer, head


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One server frame (unmasked, unfragmented): its opcode and payload."""
    first, second = await asyncio.wait_for(reader.readexactly(2), WAIT)
    n = second & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    return first & 0x0F, await asyncio.wait_for(reader.readexactly(n), WAIT)


async def read_close(reader: asyncio.StreamReader) -> tuple[int | None, str]:
    """Read frames up to the server's close frame: its code (None if it has none) and reason."""
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == 0x8:
            code = struct.unpack("!H", payload[:2])[0] if payload else None
            return code, payload[2:].decode()
