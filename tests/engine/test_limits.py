"""What one client can hold of the server: time to send a request, header bounds, connections
per address. Raw TCP against a real engine, with short timeouts."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from rtchat.engine import EngineOptions
from tests.engine.conftest import MAX_PAYLOAD
from tests.engine.support import echo_server, running_engine
from tests.engine.wire import WAIT, host_port

TIMEOUT = 0.3  # the engine's head and body timeouts in these tests


@pytest.fixture
async def strict() -> AsyncIterator[str]:
    options = EngineOptions(head_timeout=TIMEOUT, body_timeout=TIMEOUT, max_connections_per_ip=3)
    async with running_engine(echo_server(options)) as base:
        yield base


async def _connect(
    base: str, source: str = "127.0.0.1"
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = host_port(base)
    return await asyncio.open_connection(host, port, local_addr=(source, 0))


async def _response(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One response: its status line and body (by Content-Length)."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT)
    status = head.split(b"\r\n", 1)[0]
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    return status, await asyncio.wait_for(reader.readexactly(length), WAIT)


async def _closed(reader: asyncio.StreamReader) -> bool:
    return await asyncio.wait_for(reader.read(), WAIT) == b""


async def _trickle(writer: asyncio.StreamWriter, reader: asyncio.StreamReader) -> None:
    """A byte at a time until the server answers (bounded: a few seconds at most)."""
    for _ in range(100):
        writer.write(b"y")
        await asyncio.sleep(0.03)
        if reader.at_eof() or len(reader._buffer) > 0:  # type: ignore[attr-defined]
            return


@pytest.mark.serial
@pytest.mark.parametrize(
    "start",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nX-Trickled: ",
        b"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\n"
        b"Upgrade: websocket\r\nConnection: Upgrade\r\nX-Trickled: ",
    ],
    ids=["head", "websocket handshake"],
)
async def test_a_head_that_never_ends_is_answered_408(strict: str, start: bytes) -> None:
    reader, writer = await _connect(strict)
    writer.write(start)
    await _trickle(writer, reader)
    status, _ = await _response(reader)
    assert status == b"HTTP/1.1 408 Request Timeout"
    assert await _closed(reader)
    writer.close()


@pytest.mark.serial
async def test_a_body_that_never_ends_is_answered_408(strict: str) -> None:
    reader, writer = await _connect(strict)
    writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")
    await _trickle(writer, reader)
    status, _ = await _response(reader)
    assert status == b"HTTP/1.1 408 Request Timeout"
    assert await _closed(reader)
    writer.close()


async def test_a_request_that_arrives_in_time_is_served(strict: str) -> None:
    reader, writer = await _connect(strict)
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await _response(reader) == (b"HTTP/1.1 200 OK", b"hello from asgi /a")
    writer.write(b"GET /b HTTP/1.1\r\nHost: x\r\n\r\n")  # the clock starts again per request
    assert await _response(reader) == (b"HTTP/1.1 200 OK", b"hello from asgi /b")
    writer.close()


async def test_twenty_thousand_empty_headers_are_431(url: str) -> None:
    reader, writer = await _connect(url)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n" + b"a:\r\n" * 20_000 + b"\r\n")
    status, _ = await _response(reader)
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    writer.close()


async def test_connections_per_address_are_capped_and_others_still_get_in(strict: str) -> None:
    async with contextlib.AsyncExitStack() as stack:
        held = []
        for _ in range(3):
            reader, writer = await _connect(strict)
            stack.callback(writer.close)
            held.append((reader, writer))
        reader, writer = await _connect(strict)
        stack.callback(writer.close)
        assert await _response(reader) == (
            b"HTTP/1.1 429 Too Many Requests",
            b"Too many connections from your address.\r\n",
        )
        assert await _closed(reader)
        # Another address is not kept out: 127.0.0.2 is loopback too.
        reader, writer = await _connect(strict, source="127.0.0.2")
        stack.callback(writer.close)
        writer.write(b"GET /other HTTP/1.1\r\nHost: x\r\n\r\n")
        assert (await _response(reader))[0] == b"HTTP/1.1 200 OK"
        # One of the three goes: the next one from that address gets in.
        held[0][1].close()
        for _ in range(50):
            reader, writer = await _connect(strict)
            stack.callback(writer.close)
            writer.write(b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n")
            status, _ = await _response(reader)
            if status == b"HTTP/1.1 200 OK":
                break
            await asyncio.sleep(0.02)  # the server has not seen the close yet
        assert status == b"HTTP/1.1 200 OK"


@pytest.mark.parametrize(
    "body", ['42\u00b2["x"]', "421" + "1" * 5000 + '["x"]', '451000000-["x"]', "bAQID\u00e9"]
)
async def test_a_bad_post_gets_exactly_one_response(url: str, body: str) -> None:
    reader, writer = await _connect(url)
    writer.write(b"GET /socket.io/?EIO=4&transport=polling HTTP/1.1\r\nHost: x\r\n\r\n")
    _, handshake = await _response(reader)
    sid = handshake.split(b'"sid":"', 1)[1].split(b'"', 1)[0].decode()
    for data in (b"40", body.encode()):
        writer.write(
            f"POST /socket.io/?EIO=4&transport=polling&sid={sid} HTTP/1.1\r\nHost: x\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        status, _ = await _response(reader)
        assert status in (b"HTTP/1.1 200 OK", b"HTTP/1.1 400 Bad Request")
        # The sentinel: the next answer on this connection is the next request's.
        writer.write(b"GET /sentinel HTTP/1.1\r\nHost: x\r\n\r\n")
        assert await _response(reader) == (b"HTTP/1.1 200 OK", b"hello from asgi /sentinel")
    writer.close()


async def test_expect_100_continue(url: str) -> None:
    reader, writer = await _connect(url)
    writer.write(
        b"POST /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    )
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WAIT) == (
        b"HTTP/1.1 100 Continue\r\n\r\n"
    )
    writer.write(b"hi")
    assert await _response(reader) == (b"HTTP/1.1 200 OK", b"hello from asgi /x")
    writer.close()


async def test_an_upgrade_to_something_else_is_answered_as_plain_http(url: str) -> None:
    reader, writer = await _connect(url)
    writer.write(b"GET /page HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n")
    assert await _response(reader) == (b"HTTP/1.1 200 OK", b"hello from asgi /page")
    assert await _closed(reader)
    writer.close()


@pytest.mark.parametrize(
    ("request_line", "status"),
    [
        (b"GET http://[ HTTP/1.1", b"HTTP/1.1 400 Bad Request"),
        (b"GET http://a:99999/x HTTP/1.1", b"HTTP/1.1 400 Bad Request"),
        (b"GET /a b HTTP/1.1", b"HTTP/1.1 400 Bad Request"),
    ],
)
async def test_a_url_that_does_not_parse_is_answered_400(
    url: str, request_line: bytes, status: bytes
) -> None:
    reader, writer = await _connect(url)
    writer.write(request_line + b"\r\nHost: x\r\n\r\n")
    assert (await _response(reader))[0] == status
    assert await _closed(reader)
    writer.close()


async def test_a_body_too_big_for_any_path_is_413(url: str) -> None:
    reader, writer = await _connect(url)
    body = b"z" * (MAX_PAYLOAD + 1)
    writer.write(b"POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert (await _response(reader))[0] == b"HTTP/1.1 413 Content Too Large"
    writer.close()
