"""The plain WebSocket endpoint at the byte level: heartbeats, the output bound, the close
handshake, and what an app sees. Its app here echoes; `flood <n>` sends n MiB at once."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
from collections.abc import AsyncIterator

import pytest

from rtchat.engine.plain_ws import WsConn, WsEndpoint, WsOptions
from tests.engine.support import echo_server, running_engine
from tests.engine.wire import WAIT, host_port, masked, read_close, read_frame

TEXT, CLOSE, PING, PONG = 0x1, 0x8, 0x9, 0xA
MIB = 1024 * 1024


class EchoApp:
    def __init__(self, endpoint: WsEndpoint) -> None:
        self.codes: list[int] = []
        self.gone = asyncio.Event()
        self.endpoint = endpoint
        endpoint.serve(self)

    def opened(self, conn: WsConn) -> None:
        conn.send_text(b"welcome")

    def received(self, conn: WsConn, text: str) -> None:
        if text.startswith("flood "):
            chunk = b"x" * MIB
            for _ in range(int(text.split()[1])):
                conn.send_text(chunk)
        else:
            conn.send_text(text.encode())

    def closed(self, conn: WsConn, code: int) -> None:
        self.codes.append(code)
        self.gone.set()


@pytest.fixture
async def engine(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, EchoApp]]:
    options = getattr(request, "param", WsOptions())
    endpoint = WsEndpoint(options)
    app = EchoApp(endpoint)
    async with running_engine(echo_server(), endpoints=(endpoint,)) as base:
        yield base, app


async def _open(
    base: str, protocol: str = "rtchat.v1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = host_port(base)
    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    assert head.startswith(b"HTTP/1.1 101 "), head
    assert b"Sec-WebSocket-Protocol: rtchat.v1\r\n" in head
    assert await read_frame(reader) == (TEXT, b"welcome")
    return reader, writer


FAST_PINGS = WsOptions(ping_interval=0.2, ping_timeout=0.3)


@pytest.mark.parametrize("engine", [FAST_PINGS], indirect=True)
async def test_a_client_that_answers_pings_stays(engine: tuple[str, EchoApp]) -> None:
    base, app = engine
    reader, writer = await _open(base)
    for _ in range(4):  # well past interval + timeout
        opcode, payload = await read_frame(reader)
        assert opcode == PING
        writer.write(masked(PONG, payload))
    writer.write(masked(TEXT, b"still here"))
    assert await read_frame(reader) == (TEXT, b"still here")
    assert app.codes == []
    writer.close()


@pytest.mark.parametrize("engine", [FAST_PINGS], indirect=True)
async def test_a_silent_client_is_closed_after_the_ping_timeout(
    engine: tuple[str, EchoApp],
) -> None:
    base, app = engine
    reader, writer = await _open(base)
    loop = asyncio.get_running_loop()
    opcode, _ = await read_frame(reader)
    pinged = loop.time()
    assert opcode == PING
    assert await read_close(reader) == (1011, "no pong in time")
    assert loop.time() - pinged >= FAST_PINGS.ping_timeout - 0.01
    await asyncio.wait_for(app.gone.wait(), WAIT)
    assert app.codes == [1011]
    writer.close()


@pytest.mark.parametrize("engine", [WsOptions(max_buffered=MIB)], indirect=True)
async def test_a_client_that_does_not_read_is_closed_as_a_slow_consumer(
    engine: tuple[str, EchoApp],
) -> None:
    base, app = engine
    reader, writer = await _open(base)
    # More than the kernel's socket buffers take at once, so most of it stays unsent.
    writer.write(masked(TEXT, b"flood 64"))
    await asyncio.wait_for(app.gone.wait(), WAIT)
    assert app.codes == [4008]
    # What was queued before the close still comes, then the close frame.
    frames = 0
    while True:
        opcode, payload = await read_frame(reader)
        if opcode == CLOSE:
            assert payload[:2] == (4008).to_bytes(2)
            break
        frames += 1
    assert frames == 64
    assert app.endpoint.dropped == {"slow consumer": 1}
    writer.close()


@pytest.mark.parametrize(
    "engine", [WsOptions(max_buffered=256 * MIB, output_budget=32 * MIB)], indirect=True
)
async def test_past_the_output_budget_the_biggest_backlog_is_dropped(
    engine: tuple[str, EchoApp],
) -> None:
    base, app = engine
    small_reader, small = await _open(base)
    big_reader, big = await _open(base)
    # Each under its own bound; together over the budget, which the big one pays for.
    small.write(masked(TEXT, b"flood 16"))
    for _ in range(16):
        opcode, _payload = await read_frame(small_reader)  # read, so it has caught up
        assert opcode == TEXT
    big.write(masked(TEXT, b"flood 48"))
    await asyncio.wait_for(app.gone.wait(), WAIT)
    assert app.codes == [4008]
    # The big one was aborted: its connection ends without the rest of the flood.
    received = 0
    with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
        while chunk := await asyncio.wait_for(big_reader.read(MIB), WAIT):
            received += len(chunk)
    assert received < 48 * MIB
    assert app.endpoint.dropped == {"output budget": 1}
    small.write(masked(TEXT, b"still here"))
    assert await read_frame(small_reader) == (TEXT, b"still here")
    small.close()
    big.close()


async def test_the_close_handshake_echoes_the_code(
    engine: tuple[str, EchoApp], caplog: pytest.LogCaptureFixture
) -> None:
    base, app = engine
    caplog.set_level(logging.INFO, "rtchat.connections")
    reader, writer = await _open(base)
    writer.write(masked(CLOSE, (4321).to_bytes(2) + b"bye"))
    assert await read_close(reader) == (4321, "")
    await asyncio.wait_for(app.gone.wait(), WAIT)
    assert app.codes == [4321]
    # One line when it opened and one when it closed, as for Engine.IO sessions.
    lines = [r for r in caplog.records if r.name == "rtchat.connections"]
    logged = [(r.__dict__["event"], r.__dict__["transport"]) for r in lines]
    assert logged == [("connect", "ws"), ("disconnect", "ws")]
    writer.close()


async def test_a_dropped_connection_reaches_the_app_as_1006(engine: tuple[str, EchoApp]) -> None:
    base, app = engine
    _, writer = await _open(base)
    writer.transport.abort()
    await asyncio.wait_for(app.gone.wait(), WAIT)
    assert app.codes == [1006]


async def test_socketio_is_served_beside_the_endpoint(engine: tuple[str, EchoApp]) -> None:
    base, _ = engine
    host, port = host_port(base)
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        f"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
    )
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    assert head.startswith(b"HTTP/1.1 200 ")
    writer.close()
