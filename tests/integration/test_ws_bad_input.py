"""Bad input on `/ws`: each bad frame gets its error reply or its close code, and nothing
else happens (no push, no second reply, nothing stored); handshakes without the
subprotocol, or from a foreign page, are refused with a body that says why."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from rtchat.settings import Settings
from tests.support import ok
from tests.ws_client import WsClient, ws_url


@pytest.fixture
async def signed_in(server: str) -> AsyncIterator[tuple[WsClient, WsClient]]:
    """alice, who sends the bad frames, and bob, who watches `general`."""
    alice, bob = await WsClient.open(server), await WsClient.open(server)
    await alice.join("alice")
    await bob.join("bob")
    # Announcements may come after the answer (see `user-connected` in docs/protocol.md):
    # the tests count alice's frames from here, so bob's must be in.
    await alice.wait_for("user-connected", lambda d: d["username"] == "bob")
    yield alice, bob
    await alice.close()
    await bob.close()


async def _nothing_else(alice: WsClient, bob: WsClient, before: int) -> list[Any]:
    """What alice got since `before` frames, up to a request that proves the line is
    still open and in order; bob heard no message meanwhile."""
    history = ok(await alice.call("history", {"room": "general", "before": 1_000_000}))
    assert history["messages"] == []
    assert bob.events("receive-message") == []
    return alice.frames[before:-1]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ("not json", "this is not JSON"),
        ("[1, 2]", "is a JSON object"),
        ('"text"', "is a JSON object"),
        ('{"op": "send-message", "data": "hi"}', "needs an `id`"),
        ('{"id": true, "op": "send-message", "data": "hi"}', "needs an `id`"),
        ('{"id": {}, "op": "send-message", "data": "hi"}', "needs an `id`"),
        ('{"id": "' + "x" * 65 + '", "op": "send-message", "data": "hi"}', "needs an `id`"),
    ],
)
async def test_a_bad_request_is_answered_with_id_null(
    signed_in: tuple[WsClient, WsClient], frame: str, message: str
) -> None:
    alice, bob = signed_in
    before = len(alice.frames)
    await alice.ws.send(frame)
    (reply,) = await _nothing_else(alice, bob, before)
    assert reply["id"] is None
    assert reply["ok"] is False
    assert reply["error"]["code"] == "invalid_payload"
    assert message in reply["error"]["message"]


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        ({"id": 7, "data": "hi"}, "invalid_payload"),
        ({"id": 7, "op": 3, "data": "hi"}, "invalid_payload"),
        ({"id": 7, "op": "post-everywhere", "data": "hi"}, "unknown_event"),
        ({"id": "seven", "op": "send-message", "data": {"room": 1, "text": "hi"}}, None),
    ],
)
async def test_a_bad_op_is_answered_with_its_id(
    signed_in: tuple[WsClient, WsClient], request_: dict[str, Any], code: str | None
) -> None:
    alice, bob = signed_in
    before = len(alice.frames)
    await alice.send_raw(request_)
    (reply,) = await _nothing_else(alice, bob, before)
    assert reply["id"] == request_["id"]
    assert reply["ok"] is False
    assert reply["error"]["code"] == (code or "invalid_room_name")


async def test_a_binary_frame_closes_1003(signed_in: tuple[WsClient, WsClient]) -> None:
    alice, bob = signed_in
    before = len(alice.frames)
    await alice.ws.send(b'{"id": 1, "op": "send-message", "data": "hi"}')
    assert (await alice.closed())[0] == 1003
    assert alice.frames[before:] == []
    ok(await bob.call("send-message", "still here"))
    await bob.wait_for("receive-message", lambda d: d["message"] == "still here")
    assert [m["message"] for m in bob.events("receive-message")] == ["still here"]


async def test_a_message_over_the_limit_closes_1009(
    signed_in: tuple[WsClient, WsClient],
) -> None:
    alice, bob = signed_in
    before = len(alice.frames)
    text = "x" * Settings().max_payload_bytes
    await alice.send_raw({"id": 1, "op": "send-message", "data": text})
    assert (await alice.closed())[0] == 1009
    assert alice.frames[before:] == []
    ok(await bob.call("send-message", "after"))
    await bob.wait_for("receive-message", lambda d: d["message"] == "after")
    assert [m["message"] for m in bob.events("receive-message")] == ["after"]


@pytest.mark.parametrize("offered", [None, ["chat"], ["rtchat.v2", "graphql-ws"]])
async def test_a_handshake_without_the_subprotocol_is_refused(
    server: str, offered: list[str] | None
) -> None:
    protocols = [websockets.Subprotocol(p) for p in offered] if offered else None
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(ws_url(server), subprotocols=protocols)
    response = refused.value.response
    assert response.status_code == 400
    assert b"Sec-WebSocket-Protocol: rtchat.v1" in response.body


async def test_the_subprotocol_is_picked_among_several(server: str) -> None:
    offered = [websockets.Subprotocol(p) for p in ("chat", "rtchat.v1")]
    async with websockets.connect(ws_url(server), subprotocols=offered) as ws:
        assert ws.subprotocol == "rtchat.v1"


async def test_a_foreign_page_may_not_connect(server: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await WsClient.open(server, origin=websockets.Origin("http://evil.example"))
    assert refused.value.response.status_code == 403
    same = server.replace("localhost", "127.0.0.1")
    client = await WsClient.open(server, origin=websockets.Origin(same))
    await client.hello()
    await client.close()
