"""Engine.IO v4 over WebSocket and the upgrade from long-polling, against a real engine."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
import websockets

from rtchat.engine import EngineOptions
from tests.engine.conftest import MAX_PAYLOAD
from tests.engine.support import echo_server, running_engine
from tests.engine.wire import (
    masked,
    open_polling,
    open_ws,
    poll,
    post,
    raw_ws,
    read_close,
    read_frame,
    recv,
    ws_url,
)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def _connected(ws: websockets.ClientConnection, namespace: str = "") -> str:
    await ws.send("40" + namespace + ("," if namespace else ""))
    answer = await recv(ws)
    assert isinstance(answer, str)
    assert answer.startswith("40" + namespace + ("," if namespace else "") + '{"sid":'), answer
    return answer


async def test_handshake(url: str) -> None:
    ws, handshake = await open_ws(url)
    async with ws:
        assert set(handshake) == {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}
        assert handshake["upgrades"] == []
        assert handshake["maxPayload"] == MAX_PAYLOAD


@pytest.mark.parametrize("query", ["EIO=4", "EIO=4&transport=abc", "transport=websocket"])
async def test_bad_query_refuses_the_websocket(url: str, query: str) -> None:
    target = url.replace("http", "ws", 1) + "/socket.io/?" + query
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(target)
    assert refused.value.response.status_code == 400


async def test_connect_ack_comes_before_what_the_connect_handler_emits(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        answer = await _connected(ws)
        sid = orjson.loads(answer[2:])["sid"]
        assert await recv(ws) == '42["hello",{"sid":"' + sid + '"}]'


async def test_events_and_acks(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await _connected(ws)
        await recv(ws)  # hello
        await ws.send('4212["echo",1,{"a":"b"}]')
        assert await recv(ws) == '4312[1,{"a":"b"}]'
        await ws.send('42["back","x"]')
        assert await recv(ws) == '42["back","x"]'


async def test_binary_event_and_ack(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await _connected(ws)
        await recv(ws)
        await ws.send('451-7["echo",{"_placeholder":true,"num":0}]')
        await ws.send(b"\x01\x02\x03")
        assert await recv(ws) == '461-7[{"_placeholder":true,"num":0}]'
        assert await recv(ws) == b"\x01\x02\x03"


async def test_namespaces_connect_and_disconnect(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await ws.send("40/nope,")
        assert await recv(ws) == '44/nope,{"message":"Invalid namespace"}'
        await _connected(ws, "/admin")
        await ws.send("41/admin,")
        await ws.send("40/admin,")
        assert str(await recv(ws)).startswith('40/admin,{"sid":')


async def test_connect_middleware_refuses_with_its_message(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await ws.send('40{"token":"bad"}')
        assert await recv(ws) == '44{"message":"bad token","data":{"retry":false}}'


@pytest.mark.serial
async def test_ping_pong_and_timeout(fast_url: str) -> None:
    ws, _ = await open_ws(fast_url)
    async with ws:
        for _ in range(3):
            assert await recv(ws) == "2"
            await ws.send("3")
        started = time.monotonic()  # just after the last pong: ping at 0.3, closed at 0.5
        assert await recv(ws) == "2"
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)
        assert 0.45 < time.monotonic() - started < 0.7


async def test_close_packet_closes(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await ws.send("1")
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def test_message_over_max_http_buffer_size_closes(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await _connected(ws)
        await recv(ws)
        await ws.send('42["echo","' + "x" * MAX_PAYLOAD + '"]')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009


async def test_connect_timeout() -> None:
    async with running_engine(echo_server(EngineOptions(connect_timeout=0.2))) as base:
        ws, _ = await open_ws(base)
        async with ws:
            with pytest.raises(websockets.ConnectionClosed):
                await recv(ws)


async def test_upgrade_from_polling(http: aiohttp.ClientSession, url: str) -> None:
    sid, _ = await open_polling(http, url)
    await post(http, url, sid, "40")
    await poll(http, url, sid)  # the CONNECT ack
    await poll(http, url, sid)  # hello
    pending = asyncio.create_task(poll(http, url, sid))
    await asyncio.sleep(0.05)
    async with websockets.connect(ws_url(url, sid=sid)) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        assert await pending == (200, "6")  # the pending GET ends with a noop
        await post(http, url, sid, '42["back","queued before the upgrade"]')
        await ws.send("5")
        assert await recv(ws) == '42["back","queued before the upgrade"]'
        await ws.send('42["back","after"]')
        # No stray noop on the WebSocket: the next frame is the event.
        assert await recv(ws) == '42["back","after"]'
        status, _ = await poll(http, url, sid)
        assert status == 400  # an HTTP request for an upgraded sid
        await ws.send('421["echo","still"]')
        assert await recv(ws) == '431["still"]'


@pytest.mark.parametrize("upgraded", [False, True])
async def test_second_websocket_for_a_sid_is_closed_after_its_handshake(
    http: aiohttp.ClientSession, url: str, upgraded: bool
) -> None:
    # The protocol: the server MUST close a second WebSocket for a sid that is upgrading
    # or upgraded, and leave the first one be.
    sid, _ = await open_polling(http, url)
    async with websockets.connect(ws_url(url, sid=sid)) as ws:
        await ws.send("2probe")
        assert await recv(ws) == "3probe"
        if upgraded:
            await ws.send("5")
        async with websockets.connect(ws_url(url, sid=sid)) as second:  # a 101: no error
            with pytest.raises(websockets.ConnectionClosed):
                await recv(second)
        assert second.close_code == 1008
        if not upgraded:
            await ws.send("5")
        await ws.send("40")  # the first WebSocket carries on
        assert str(await recv(ws)).startswith("40")
        assert str(await recv(ws)).startswith('42["hello"')


async def test_an_upgrade_not_finished_in_time_is_closed_and_polling_goes_on(
    http: aiohttp.ClientSession,
) -> None:
    async with running_engine(echo_server(EngineOptions(upgrade_timeout=0.3))) as base:
        sid, _ = await open_polling(http, base)
        async with websockets.connect(ws_url(base, sid=sid)) as probe:
            await probe.send("2probe")
            assert await recv(probe) == "3probe"
            with pytest.raises(websockets.ConnectionClosed):
                await recv(probe)  # no "5" comes
        assert (probe.close_code, probe.close_reason) == (1008, "upgrade timeout")
        assert await post(http, base, sid, "40") == (200, "ok")
        status, connected = await poll(http, base, sid)
        assert (status, connected[:9]) == (200, '40{"sid":')


async def test_rooms_and_skip(url: str) -> None:
    a, _ = await open_ws(url)
    b, _ = await open_ws(url)
    c, _ = await open_ws(url)
    async with a, b, c:
        for ws in (a, b, c):
            await _connected(ws)
            await recv(ws)
        for ws in (a, b):
            await ws.send('421["join","lobby"]')
            assert await recv(ws) == '431["joined"]'
        await a.send('42["shout","lobby","hi"]')
        assert await recv(b) == '42["shout","hi"]'
        await c.send('42["back","c"]')
        assert await recv(c) == '42["back","c"]'
        await a.send('42["back","a"]')
        assert await recv(a) == '42["back","a"]'  # a skipped its own shout


async def test_server_asks_and_the_client_acknowledges(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await _connected(ws)
        await recv(ws)
        await ws.send('425["ask-me",{"q":1}]')
        question = str(await recv(ws))
        assert question.startswith("42")
        assert question.endswith('["question",{"q":1}]')
        ack_id = question[2 : question.index("[")]
        await ws.send(f'43{ack_id}["answer",2]')
        assert await recv(ws) == '435[["answer",2]]'


async def test_events_sent_just_before_closing_are_still_handled() -> None:
    sio = echo_server()
    handled: list[str] = []
    echo = sio._namespaces["/"].on_event
    assert echo is not None

    async def recording(sid: str, name: str, args: list[object], ack: bool) -> object:
        await asyncio.sleep(0.01)
        handled.append(name)
        return await echo(sid, name, args, ack)

    sio.on_event(recording)
    async with running_engine(sio) as base:
        ws, _ = await open_ws(base)
        await _connected(ws)
        await recv(ws)
        for i in range(5):
            await ws.send(f'42["last-words-{i}"]')
        await ws.close()
        for _ in range(100):
            if sio.reasons:  # type: ignore[attr-defined]
                break
            await asyncio.sleep(0.02)
    assert handled == [f"last-words-{i}" for i in range(5)]
    assert sio.reasons == ["transport close"]  # type: ignore[attr-defined]


async def test_overlapping_events_start_in_order_and_others_wait_for_them() -> None:
    sio = echo_server()
    log: list[str] = []

    async def handler(sid: str, name: str, args: list[object], ack: bool) -> object:
        if name == "slow":
            n = int(str(args[0]))
            log.append(f"start {n}")
            await asyncio.sleep(0.05 - n * 0.01)
            log.append(f"end {n}")
            return n
        log.append(name)
        return name

    sio.on_event(handler, overlap={"slow"})
    async with running_engine(sio) as base:
        ws, _ = await open_ws(base)
        async with ws:
            await _connected(ws)
            await recv(ws)  # hello
            for n in range(5):
                await ws.send(f'42{n}["slow",{n}]')
            await ws.send('429["barrier"]')
            acks = [await recv(ws) for _ in range(6)]
    assert log[:5] == [f"start {n}" for n in range(5)]
    assert log[5:10] == [f"end {n}" for n in reversed(range(5))]
    assert log[10] == "barrier"
    assert acks == [f"43{n}[{n}]" for n in reversed(range(5))] + ['439["barrier"]']


@pytest.mark.parametrize("opcode", [0x3, 0x7, 0xB, 0xF])
async def test_reserved_opcode_closes_with_1002(url: str, opcode: int) -> None:
    reader, writer, head = await raw_ws(url)
    assert head.startswith(b"HTTP/1.1 101")
    assert (await read_frame(reader))[1].startswith(b"0{")  # the handshake
    writer.write(masked(opcode, b"x"))
    assert (await read_close(reader))[0] == 1002
    writer.close()


@pytest.mark.parametrize(
    ("sent", "answer"),
    [
        (b"", 1000),
        (struct.pack("!H", 3000) + b"bye", 3000),
        (struct.pack("!H", 1005), 1002),
        (struct.pack("!H", 1006), 1002),
        (struct.pack("!H", 1015), 1002),
        (struct.pack("!H", 999), 1002),
        (b"\x03", 1002),
        (struct.pack("!H", 1000) + b"\xff\xfe", 1007),
    ],
)
async def test_close_frames_from_the_client_are_answered_per_rfc_6455(
    url: str, sent: bytes, answer: int
) -> None:
    reader, writer, _ = await raw_ws(url)
    await read_frame(reader)
    writer.write(masked(0x8, sent))
    assert (await read_close(reader))[0] == answer
    writer.close()


@pytest.mark.parametrize(
    "packet", ['451000000-["echo",{"_placeholder":true,"num":0}]', '45257-["echo"]']
)
async def test_too_many_announced_attachments_close_the_session(url: str, packet: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await _connected(ws)
        await recv(ws)
        await ws.send(packet)
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)


async def test_attachments_are_held_to_max_payload_together(url: str) -> None:
    ws, _ = await open_ws(url)
    async with ws:
        await _connected(ws)
        await recv(ws)
        await ws.send('452-["echo",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]')
        await ws.send(b"x" * (MAX_PAYLOAD // 2 + 1))
        await ws.send(b"x" * (MAX_PAYLOAD // 2 + 1))  # each fits, both do not
        with pytest.raises(websockets.ConnectionClosed):
            await recv(ws)
    assert ws.close_reason == "parse error"


def _data_segments_in(writer: asyncio.StreamWriter) -> int:
    """Linux's count of TCP segments with data this socket received (`tcpi_data_segs_in`)."""
    sock = writer.get_extra_info("socket")
    info = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 256)
    return int(struct.unpack_from("I", info, 152)[0])  # offset in struct tcp_info


async def test_connect_ack_arrives_in_a_tcp_segment_of_its_own(url: str) -> None:
    # Node's `ws` hands every frame of one read to socket.io-client before user code runs
    # again, so an event sent with the CONNECT ack in one segment reaches a client that is
    # still to add its listener (in an `await` after "connect"): it must come after.
    reader, writer, _ = await raw_ws(url)
    await read_frame(reader)  # the Engine.IO handshake
    before = _data_segments_in(writer)
    writer.write(masked(0x1, b"40"))
    _, ack = await read_frame(reader)
    assert ack.startswith(b'40{"sid":')
    assert (await read_frame(reader))[1].startswith(b'42["hello"')
    assert _data_segments_in(writer) - before == 2
    writer.close()
