"""Bad input gets a clear error to that client only; the server and everyone else carry on."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import websockets

from rtchat.domain.rules import MAX_MESSAGE_LENGTH, MAX_USERNAME_LENGTH
from tests.support import ChatClient, Connect


async def _chat_still_works(a: ChatClient, b: ChatClient) -> None:
    ack = await a.call("send-message", "still here")
    assert ack["ok"], ack
    await b.wait_for("receive-message", lambda d: d["message"] == "still here")


@pytest.fixture
async def bystanders(clients: Connect) -> tuple[ChatClient, ChatClient]:
    a, b = await clients(), await clients()
    await a.join("alice")
    await b.join("bob")
    return a, b


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("user-joined", 123, "invalid_username"),
        ("user-joined", None, "invalid_username"),
        ("user-joined", "   ", "invalid_username"),
        ("user-joined", "x" * (MAX_USERNAME_LENGTH + 1), "invalid_username"),
        ("user-joined", "bad\x00name", "invalid_username"),
        ("send-message", "hello", "not_joined"),
        ("typing", True, "not_joined"),
        ("no-such-event", "x", "unknown_event"),
    ],
)
async def test_bad_request_gets_its_error(
    clients: Connect,
    bystanders: tuple[ChatClient, ChatClient],
    event: str,
    payload: Any,
    code: str,
) -> None:
    offender = await clients()
    answer = await offender.call(event, payload)
    assert answer["ok"] is False
    assert answer["error"]["code"] == code
    assert answer["error"]["message"]
    # Without an ack callback, the same failure arrives as an `error` event.
    await offender.sio.emit(event, payload)
    error = await offender.wait_for("error")
    assert error["code"] == code
    await _chat_still_works(*bystanders)
    for bystander in bystanders:
        assert bystander.events("error") == []


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (42, "invalid_message"),
        ({"room": "general", "text": 7}, "invalid_message"),
        ({"room": "general"}, "invalid_message"),
        (["hi"], "invalid_message"),
        ("", "invalid_message"),
        (" \n\t ", "invalid_message"),
        ("x" * (MAX_MESSAGE_LENGTH + 1), "invalid_message"),
    ],
)
async def test_bad_messages_are_refused_and_not_broadcast(
    clients: Connect, bystanders: tuple[ChatClient, ChatClient], payload: Any, code: str
) -> None:
    offender = await clients()
    await offender.join("mallory")
    answer = await offender.call("send-message", payload)
    assert answer == {"ok": False, "error": {"code": code, "message": answer["error"]["message"]}}
    await _chat_still_works(*bystanders)
    assert [m["message"] for m in bystanders[1].events("receive-message")] == ["still here"]


async def test_bad_typing_flag(clients: Connect, bystanders: tuple[ChatClient, ChatClient]) -> None:
    offender = await clients()
    await offender.join("mallory")
    answer = await offender.call("typing", "yes")
    assert answer["error"]["code"] == "invalid_payload"
    await _chat_still_works(*bystanders)
    assert bystanders[1].events("user-typing") == []


async def test_a_message_at_the_limit_is_accepted(clients: Connect) -> None:
    client = await clients()
    await client.join("long")
    answer = await client.call("send-message", "y" * MAX_MESSAGE_LENGTH)
    assert answer["ok"]
    assert len(answer["data"]["message"]) == MAX_MESSAGE_LENGTH


async def test_html_is_carried_as_text(clients: Connect) -> None:
    client = await clients()
    await client.join("<b>bold</b>")
    answer = await client.call("send-message", "<script>alert(1)</script>")
    assert answer["data"]["message"] == "<script>alert(1)</script>"
    assert answer["data"]["username"] == "<b>bold</b>"


async def test_message_flood_is_rate_limited(
    clients: Connect, bystanders: tuple[ChatClient, ChatClient]
) -> None:
    flooder = await clients()
    await flooder.join("flooder")
    answers = [await flooder.call("send-message", f"spam {i}") for i in range(40)]
    limited = [a for a in answers if not a["ok"]]
    assert limited, "40 messages at once must exceed the burst of 20"
    assert {a["error"]["code"] for a in limited} == {"rate_limited"}
    accepted = sum(1 for a in answers if a["ok"])
    assert 20 <= accepted < 40
    await _chat_still_works(*bystanders)
    spam = [m for m in bystanders[1].events("receive-message") if m["username"] == "flooder"]
    assert len(spam) == accepted


async def test_event_flood_is_cut_off_for_that_client_only(
    clients: Connect, bystanders: tuple[ChatClient, ChatClient]
) -> None:
    flooder = await clients()
    for _ in range(300):
        await flooder.sio.emit("no-such-event")
    await flooder.wait_for("error", lambda d: d["code"] == "rate_limited")
    await _chat_still_works(*bystanders)


async def test_oversized_packet_closes_only_that_connection(
    server: str, bystanders: tuple[ChatClient, ChatClient]
) -> None:
    url = server.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url, max_size=None) as ws:
        assert str(await ws.recv()).startswith("0")
        await ws.send("40")
        assert str(await ws.recv()).startswith("40")
        await ws.send('42["send-message","' + "z" * 200_000 + '"]')
        with pytest.raises(websockets.ConnectionClosed):
            await asyncio.wait_for(_drain(ws), 5)
    await _chat_still_works(*bystanders)


async def _drain(ws: websockets.ClientConnection) -> None:
    while True:
        await ws.recv()


@pytest.mark.parametrize(
    "raw",
    ["42[bad json", "42{}", '42["typing"', "4", "9", "42[1,2]", '42["user-joined"]'],
)
async def test_malformed_packets_do_not_hurt_others(
    server: str, bystanders: tuple[ChatClient, ChatClient], raw: str
) -> None:
    url = server.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    async with websockets.connect(url) as ws:
        await ws.recv()
        await ws.send("40")
        await ws.recv()
        await ws.send(raw)
        # One connection's packets are handled in order: once the next request is
        # answered, or the server closed the connection, the bad packet had its effect.
        await ws.send('421["session"]')
        with contextlib.suppress(websockets.ConnectionClosed):
            async with asyncio.timeout(5):
                while not str(await ws.recv()).startswith("431"):
                    pass
    await _chat_still_works(*bystanders)
