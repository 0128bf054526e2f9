"""The chat over the plain WebSocket endpoint `/ws` (`rtchat.v1`), with `websockets`
clients, alone and in rooms with Socket.IO clients.

Absence is shown by a sentinel: a `general` message every connection hears; one
connection's pushes arrive in the order the server sent them.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from rtchat.settings import Settings
from tests.integration.conftest import OpenWs
from tests.proxy import CuttableProxy
from tests.support import ChatClient, Connect, error_code, ok, running_server
from tests.ws_client import WsClient

_sentinels = itertools.count()


async def ws_sentinel(sender: WsClient, *watchers: WsClient | ChatClient) -> None:
    text = f"ws sentinel {next(_sentinels)}"
    ok(await sender.call("send-message", {"room": "general", "text": text}))
    for watcher in watchers:
        await watcher.wait_for("receive-message", lambda d: d["message"] == text)


async def test_hello_with_a_name_joins_and_answers_the_session(ws_clients: OpenWs) -> None:
    alice = await ws_clients()
    data = await alice.hello(username="alice")
    assert data["user"]["username"] == "alice"
    assert data["user"]["guest"] is False
    assert data["token"]
    assert [room["name"] for room in data["rooms"]] == ["general"]
    assert data["connectionId"]
    assert ok(await alice.call("session"))["user"] == data["user"]


async def test_a_token_in_the_hello_brings_the_account_back(ws_clients: OpenWs) -> None:
    first = await ws_clients()
    joined = await first.join("alice")
    ok(await first.call("create-room", {"name": "dev"}))
    await first.close()
    again = await ws_clients()
    back = await again.hello(token=joined["token"])
    assert back["user"] == joined["user"]
    assert {room["name"] for room in back["rooms"]} == {"general", "dev"}


async def test_rooms_messages_history_and_direct_messages(ws_clients: OpenWs) -> None:
    alice, bob = await ws_clients(), await ws_clients()
    await alice.join("alice")
    await bob.join("bob")
    room = ok(await alice.call("create-room", {"name": "dev", "topic": "code"}))["room"]
    assert room["name"] == "dev"
    assert "dev" in [r["name"] for r in ok(await bob.call("list-rooms"))["rooms"]]
    joined = ok(await bob.call("join-room", {"room": "dev"}))
    assert [m["username"] for m in joined["members"]] == ["alice", "bob"]
    await alice.wait_for("member-joined", lambda d: d["user"]["username"] == "bob")

    for n in range(3):
        ok(await alice.call("send-message", {"room": "dev", "text": f"m{n}"}))
    seen = await bob.wait_for("receive-message", lambda d: d["message"] == "m2")
    assert seen["userId"] == alice.connection_id
    assert [m["message"] for m in bob.events("receive-message") if m["room"] == "dev"] == [
        "m0",
        "m1",
        "m2",
    ]
    page = ok(await bob.call("history", {"room": "dev", "before": seen["seq"], "limit": 1}))
    assert [m["message"] for m in page["messages"]] == ["m1"]
    assert page["hasMore"] is True
    online = ok(await bob.call("list-online", {"room": "dev"}))["users"]
    assert [u["username"] for u in online] == ["alice", "bob"]

    dm = ok(await alice.call("open-dm", {"username": "bob"}))["room"]
    added = await bob.wait_for("room-added")
    assert added["room"]["name"] == dm["name"]
    ok(await alice.call("send-message", {"room": dm["name"], "text": "psst"}))
    await bob.wait_for("receive-message", lambda d: d["message"] == "psst")
    assert ok(await bob.call("leave-room", {"room": "dev"})) == {"room": "dev"}
    await alice.wait_for("member-left", lambda d: d["user"]["username"] == "bob")


async def test_a_retry_with_the_same_client_id_is_stored_and_sent_once(
    ws_clients: OpenWs,
) -> None:
    alice, bob = await ws_clients(), await ws_clients()
    await alice.join("alice")
    await bob.join("bob")
    send = {"room": "general", "text": "once", "clientId": "c-1"}
    first = ok(await alice.call("send-message", send))
    again = ok(await alice.call("send-message", send))
    assert again == first
    await ws_sentinel(alice, bob)
    assert [m["message"] for m in bob.events("receive-message")].count("once") == 1


async def test_every_error_code_a_client_can_reach(ws_clients: OpenWs) -> None:
    alice, bob = await ws_clients(), await ws_clients()
    await alice.hello()  # signed in, no name yet
    assert error_code(await alice.call("send-message", "hi")) == "not_joined"
    assert error_code(await alice.call("user-joined", "")) == "invalid_username"
    await bob.join("bob")
    assert error_code(await alice.call("user-joined", {"username": "bob", "guest": False})) == (
        "username_taken"
    )
    await alice.call("user-joined", "alice")
    assert error_code(await alice.call("join-room", "dev")) == "invalid_payload"
    assert error_code(await alice.call("join-room", {"room": "Nope!"})) == "invalid_room_name"
    assert error_code(await alice.call("join-room", {"room": "nope"})) == "room_not_found"
    ok(await bob.call("create-room", {"name": "dev"}))
    assert error_code(await alice.call("create-room", {"name": "dev"})) == "room_exists"
    assert error_code(await alice.call("history", {"room": "dev", "before": 1})) == "forbidden"
    assert error_code(await alice.call("send-message", {"room": "general", "text": " "})) == (
        "invalid_message"
    )
    assert error_code(await alice.call("open-dm", {"username": "carol"})) == "user_not_found"
    assert error_code(await alice.call("no-such-op", {})) == "unknown_event"


async def test_sync_after_a_cut_answers_what_was_missed(server: str) -> None:
    port = int(server.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    await proxy.start()
    alice = await WsClient.open(server)
    try:
        await alice.join("alice")
        ok(await alice.call("create-room", {"name": "dev"}))
        bob = await WsClient.open(f"http://127.0.0.1:{proxy.port}")
        joined = await bob.join("bob")
        last = ok(await bob.call("join-room", {"room": "dev"}))["room"]["lastSeq"]
        ok(await alice.call("send-message", {"room": "dev", "text": "before"}))
        seen = await bob.wait_for("receive-message", lambda d: d["message"] == "before")
        proxy.cut()
        await bob.closed()
        for text in ("missed 1", "missed 2"):
            ok(await alice.call("send-message", {"room": "dev", "text": text}))
        back = await WsClient.open(server)
        await back.hello(token=joined["token"])
        missed = ok(await back.call("sync", {"rooms": {"dev": seen["seq"]}}))["rooms"]["dev"]
        assert [m["message"] for m in missed["messages"]] == ["missed 1", "missed 2"]
        assert missed["hasMore"] is False
        assert seen["seq"] == last + 1
        await back.close()
    finally:
        await alice.close()
        await proxy.close()


async def test_socketio_and_ws_users_share_a_room(ws_clients: OpenWs, clients: Connect) -> None:
    alice = await ws_clients()
    bob = await clients()
    await bob.join("bob")
    alice_user = (await alice.join("alice"))["user"]
    # Presence: the Socket.IO user hears the /ws user come online, with its connection id.
    came = await bob.wait_for("user-connected", lambda d: d["username"] == "alice")
    assert came["userId"] == alice.connection_id
    assert came["accountId"] == alice_user["accountId"]
    ok(await alice.call("create-room", {"name": "dev"}))
    ok(await bob.call("join-room", {"room": "dev"}))
    await alice.wait_for("member-joined", lambda d: d["user"]["username"] == "bob")

    ok(await alice.call("send-message", {"room": "dev", "text": "from ws"}))
    heard = await bob.wait_for("receive-message", lambda d: d["message"] == "from ws")
    assert heard["userId"] == alice.connection_id
    ok(await bob.call("send-message", {"room": "dev", "text": "from sio"}))
    heard = await alice.wait_for("receive-message", lambda d: d["message"] == "from sio")
    assert heard["userId"] == bob.sio.get_sid()

    ok(await alice.call("typing", {"room": "dev", "isTyping": True}))
    typing = await bob.wait_for("user-typing")
    assert typing == {
        "username": "alice",
        "isTyping": True,
        "userId": alice.connection_id,
        "accountId": alice_user["accountId"],
        "guest": False,
        "room": "dev",
    }
    ok(await bob.call("typing", {"room": "dev", "isTyping": True}))
    assert (await alice.wait_for("user-typing"))["username"] == "bob"
    await ws_sentinel(alice, alice, bob)
    assert alice.events("user-typing") == [typing | {"username": "bob"} | _who(bob)]
    assert bob.events("user-typing") == [typing]

    await alice.close()
    gone = await bob.wait_for("user-disconnected", lambda d: d["username"] == "alice")
    assert gone["userId"] == alice.connection_id


def _who(client: ChatClient) -> dict[str, Any]:
    user = client.events("user-connected")
    mine = next(u for u in user if u["userId"] == client.sio.get_sid())
    return {"userId": mine["userId"], "accountId": mine["accountId"]}


async def test_an_event_reaches_each_transport_once(ws_clients: OpenWs, clients: Connect) -> None:
    ws_users = [await ws_clients() for _ in range(3)]
    sio_users = [await clients() for _ in range(2)]
    for n, client in enumerate(ws_users):
        await client.join(f"w{n}")
    for n, sio_client in enumerate(sio_users):
        await sio_client.join(f"s{n}")
    ok(await sio_users[0].call("send-message", "to all"))
    for watcher in [*ws_users, *sio_users]:
        await watcher.wait_for("receive-message", lambda d: d["message"] == "to all")
    await ws_sentinel(ws_users[0], *ws_users, *sio_users)
    for watcher in [*ws_users, *sio_users]:
        assert [m["message"] for m in watcher.events("receive-message")].count("to all") == 1


async def test_requests_before_the_hello_close_the_connection(ws_clients: OpenWs) -> None:
    client = await ws_clients()
    await client.send_raw({"id": 1, "op": "send-message", "data": "hi"})
    assert await client.closed() == (4001, "send hello first")
    assert client.frames == []


async def test_a_second_hello_is_refused(ws_clients: OpenWs) -> None:
    client = await ws_clients()
    await client.hello()
    assert error_code(await client.call("hello", {})) == "invalid_payload"
    assert ok(await client.call("session"))["user"] is None


async def test_a_hello_that_is_not_an_object_closes(ws_clients: OpenWs) -> None:
    client = await ws_clients()
    assert error_code(await client.call("hello", "alice")) == "invalid_payload"
    assert await client.closed() == (4001, "bad hello")


async def test_a_flood_is_refused_then_closed(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db", rate_limit=1, rate_burst=1)
    async with running_server(settings) as (url, _):
        client = await WsClient.open(url)
        await client.hello()
        for n in range(100):
            await client.send_raw({"id": n, "op": "session"})
        assert await client.closed() == (4029, "rate limit")
        replies = [f for f in client.frames if "id" in f]
        codes = [r["error"]["code"] for r in replies if not r["ok"]]
        assert codes == ["rate_limited"] * 20
        assert all(r["ok"] for r in replies[: len(replies) - 20])


async def test_the_server_going_away_closes_1001(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/x.db")
    async with running_server(settings) as (url, _):
        client = await WsClient.open(url)
        await client.join("alice")
    assert await client.closed() == (1001, "server going away")
