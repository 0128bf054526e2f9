"""Engine.IO v4 over HTTP long-polling, against a real engine, with raw HTTP requests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.engine import support
from tests.engine.conftest import MAX_PAYLOAD
from tests.engine.wire import eio_url, open_polling, poll, post, request

SUPPORT_SOURCE = Path(support.__file__).read_bytes()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def test_handshake(http: aiohttp.ClientSession, url: str) -> None:
    _, handshake = await open_polling(http, url)
    assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
    assert handshake["upgrades"] == ["websocket"]
    assert handshake["pingInterval"] == 25000
    assert handshake["pingTimeout"] == 20000
    assert handshake["maxPayload"] == MAX_PAYLOAD


async def test_fractional_ping_interval_is_advertised_exactly(
    http: aiohttp.ClientSession, fast_url: str
) -> None:
    _, handshake = await open_polling(http, fast_url)
    assert handshake["pingInterval"] == 300
    assert handshake["pingTimeout"] == 200


@pytest.mark.parametrize(
    "query", ["EIO=4", "EIO=4&transport=abc", "transport=polling", "EIO=3&transport=polling"]
)
async def test_missing_or_unknown_transport_or_version_is_400(
    http: aiohttp.ClientSession, url: str, query: str
) -> None:
    status, _ = await request(http, "GET", f"{url}/socket.io/?{query}")
    assert status == 400


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_unsupported_handshake_method_is_400(
    http: aiohttp.ClientSession, url: str, method: str
) -> None:
    status, _ = await request(http, method, eio_url(url))
    assert status == 400


async def test_unsupported_method_on_a_session_is_400(
    http: aiohttp.ClientSession, url: str
) -> None:
    sid, _ = await open_polling(http, url)
    status, _ = await request(http, "PUT", eio_url(url, sid=sid))
    assert status == 400


async def test_unknown_sid_is_400(http: aiohttp.ClientSession, url: str) -> None:
    status, _ = await poll(http, url, "no-such-sid")
    assert status == 400


async def test_post_answers_ok_and_payloads_are_framed_with_record_separators(
    http: aiohttp.ClientSession, url: str
) -> None:
    sid, _ = await open_polling(http, url)
    assert await post(http, url, sid, "40") == (200, "ok")
    await poll(http, url, sid)  # the CONNECT ack
    await poll(http, url, sid)  # hello
    body = '421["echo",1]\x1e422["echo","two"]\x1e42["back",3]'
    assert await post(http, url, sid, body) == (200, "ok")
    assert await poll(http, url, sid) == (200, '431[1]\x1e432["two"]\x1e42["back",3]')


async def test_connect_ack_ends_its_response_and_the_connect_handler_emits_after_it(
    http: aiohttp.ClientSession, url: str
) -> None:
    # A client handles every packet of one payload at once, as it does every frame of one
    # WebSocket read: the event emitted on connect must not share the ack's payload.
    sid, _ = await open_polling(http, url)
    assert await post(http, url, sid, "40") == (200, "ok")
    status, connected = await poll(http, url, sid)
    assert status == 200
    assert connected.startswith('40{"sid":')
    assert "\x1e" not in connected
    assert await poll(http, url, sid) == (200, '42["hello",{"sid":"' + connected[10:-2] + '"}]')


async def test_binary_event_and_ack_over_polling(http: aiohttp.ClientSession, url: str) -> None:
    sid, _ = await open_polling(http, url)
    await post(http, url, sid, "40")
    await poll(http, url, sid)  # the CONNECT ack
    await poll(http, url, sid)  # hello
    body = '451-1["echo",{"_placeholder":true,"num":0}]\x1ebAQIDBA=='
    assert await post(http, url, sid, body) == (200, "ok")
    status, text = await poll(http, url, sid)
    assert (status, text) == (200, '461-1[{"_placeholder":true,"num":0}]\x1ebAQIDBA==')


async def test_server_pings_and_a_pong_keeps_the_session(
    http: aiohttp.ClientSession, fast_url: str
) -> None:
    sid, _ = await open_polling(http, fast_url)
    for _ in range(3):
        assert await poll(http, fast_url, sid) == (200, "2")
        assert await post(http, fast_url, sid, "3") == (200, "ok")
    assert await post(http, fast_url, sid, "40") == (200, "ok")


@pytest.mark.serial
async def test_session_closes_exactly_after_ping_interval_plus_timeout(
    http: aiohttp.ClientSession, fast_url: str
) -> None:
    started = time.monotonic()
    sid, _ = await open_polling(http, fast_url)
    await asyncio.sleep(0.4 - (time.monotonic() - started))  # ping sent at 0.3, not answered
    assert await poll(http, fast_url, sid) == (200, "2")
    await asyncio.sleep(0.45 - (time.monotonic() - started))
    assert (await post(http, fast_url, sid, "40"))[0] == 200  # still open before 0.5
    await asyncio.sleep(0.56 - (time.monotonic() - started))
    assert (await post(http, fast_url, sid, "40"))[0] == 400  # closed at 0.5


async def test_close_over_post_ends_the_pending_get_with_a_noop(
    http: aiohttp.ClientSession, url: str
) -> None:
    sid, _ = await open_polling(http, url)
    pending = asyncio.create_task(poll(http, url, sid))
    await asyncio.sleep(0.05)
    assert await post(http, url, sid, "1") == (200, "ok")
    assert await pending == (200, "6")
    assert (await poll(http, url, sid))[0] == 400


async def test_undecodable_post_closes_the_session_with_400(
    http: aiohttp.ClientSession, url: str
) -> None:
    sid, _ = await open_polling(http, url)
    assert (await post(http, url, sid, "abc"))[0] == 400
    assert (await poll(http, url, sid))[0] == 400


@pytest.mark.parametrize("body", ["bAQID\u00e9", "40\x1eb\u0663\u0663\u0663\u0663"])
async def test_non_ascii_base64_closes_the_session_with_400(
    http: aiohttp.ClientSession, url: str, body: str
) -> None:
    sid, _ = await open_polling(http, url)
    assert (await post(http, url, sid, body))[0] == 400
    assert (await poll(http, url, sid))[0] == 400


async def test_two_concurrent_gets_close_the_session(http: aiohttp.ClientSession, url: str) -> None:
    sid, _ = await open_polling(http, url)
    first = asyncio.create_task(poll(http, url, sid))
    await asyncio.sleep(0.05)
    second = await poll(http, url, sid)
    assert await first == (200, "1")
    assert second[0] == 400
    assert (await poll(http, url, sid))[0] == 400


async def test_post_over_max_http_buffer_size_is_refused_and_closes(
    http: aiohttp.ClientSession, url: str
) -> None:
    sid, _ = await open_polling(http, url)
    await post(http, url, sid, "40")
    big = '42["echo","' + "x" * MAX_PAYLOAD + '"]'
    assert (await post(http, url, sid, big))[0] == 413
    assert (await poll(http, url, sid))[0] == 400


async def test_connect_timeout_closes_a_session_that_never_connects(
    http: aiohttp.ClientSession,
) -> None:
    from rtchat.engine import EngineOptions
    from tests.engine.support import echo_server, running_engine

    options = EngineOptions(connect_timeout=0.2)
    async with running_engine(echo_server(options)) as base:
        sid, _ = await open_polling(http, base)
        assert await poll(http, base, sid) == (200, "1")
        assert (await poll(http, base, sid))[0] == 400


async def test_other_paths_go_to_the_asgi_app(http: aiohttp.ClientSession, url: str) -> None:
    assert await request(http, "GET", url + "/somewhere?x=1") == (
        200,
        "hello from asgi /somewhere",
    )


async def test_keep_alive_connection_serves_file_after_file(url: str) -> None:
    expected = SUPPORT_SOURCE
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as one:
        for _ in range(3):
            async with one.get(url + "/file") as response:
                assert response.status == 200
                assert await response.read() == expected


async def test_idle_keep_alive_connections_are_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    from rtchat.engine import http as engine_http
    from tests.engine.support import echo_server, running_engine

    monkeypatch.setattr(engine_http, "KEEP_ALIVE", 0.2)
    async with running_engine(echo_server()) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
        assert head.startswith(b"HTTP/1.1 200")
        await asyncio.wait_for(reader.readexactly(len(b"hello from asgi /x")), 2)
        assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the server
        writer.close()


async def test_oversized_request_head_is_431(url: str) -> None:
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * 70_000 + b"\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n"), 2)
    assert head.startswith(b"HTTP/1.1 431")
    writer.close()
