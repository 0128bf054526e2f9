"""The HTTP API's newer routes against a real server: replies, edits, deletes, reactions,
search and read markers, each seen live by Socket.IO and `/ws` clients as the socket ops
are; every refusal code, auth refused, idempotent retries."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import jwt

from rtchat.app import Application
from rtchat.settings import Settings
from tests.api_client import KEY, OTHER_KEY, SECRET, call, failed
from tests.support import ChatClient, ok, running_server, sentinel
from tests.ws_client import WsClient

POSTS = "/rooms/general/messages"


async def _joined(url: str, name: str) -> ChatClient:
    client = await ChatClient(url).connect()
    await client.join(name)
    return client


async def _ws_joined(url: str, name: str) -> WsClient:
    client = await WsClient.open(url)
    await client.join(name)
    return client


async def _posted(url: str, text: str, key: str = KEY, **body: Any) -> dict[str, Any]:
    status, answer = await call(url, "POST", POSTS, key=key, json={"text": text, **body})
    assert status == 201, answer
    return ok(answer)  # type: ignore[no-any-return]


async def test_new_routes_refuse_a_caller_without_a_key(api: tuple[str, Application]) -> None:
    url, _ = api
    message = await _posted(url, "mine")
    one = f"{POSTS}/{message['id']}"
    for method, path, body in [
        ("PATCH", one, {"text": "x"}),
        ("DELETE", one, None),
        ("POST", one + "/reactions", {"emoji": "👍"}),
        ("GET", "/rooms/general/search?q=mine", None),
        ("PUT", "/rooms/general/read-marker", {"seq": 1}),
    ]:
        for key in (None, "wrong-key-0123456789"):
            failed(await call(url, method, path, key=key, json=body), 401, "unauthorized")
    history = ok((await call(url, "GET", POSTS))[1])["messages"]
    assert history == [message]  # nothing changed


async def test_a_bots_reply_reaches_socketio_and_ws_clients_with_its_quote(
    api: tuple[str, Application],
) -> None:
    url, _ = api
    alice, ws = await _joined(url, "alice"), await _ws_joined(url, "wsreader")
    try:
        asked = ok(await alice.call("send-message", {"room": "general", "text": "status?"}))
        reply = await _posted(url, "all green", replyTo=asked["id"])
        quote = {
            "id": asked["id"],
            "seq": asked["seq"],
            "username": "alice",
            "message": "status?",
            "deleted": False,
        }
        assert reply["replyTo"] == quote
        heard = await alice.wait_for("receive-message", lambda d: d["id"] == reply["id"])
        assert heard == reply
        by_ws = await ws.wait_for("receive-message", lambda d: d["id"] == reply["id"])
        assert by_ws["replyTo"] == quote
        # The socket op's refusals, with the same codes.
        ok(await alice.call("create-room", {"name": "elsewhere"}))
        there = ok(await alice.call("send-message", {"room": "elsewhere", "text": "other room"}))
        for target, status, code in [
            ("nosuchmessage", 404, "message_not_found"),
            (there["id"], 404, "message_not_found"),  # not of this room
            (42, 400, "invalid_payload"),
            ("x" * 65, 400, "invalid_payload"),
        ]:
            body = {"text": "x", "replyTo": target}
            failed(await call(url, "POST", POSTS, json=body), status, code)
            refused = await alice.call(
                "send-message", {"room": "general", "text": "x", "replyTo": target}
            )
            assert refused["error"]["code"] == code
    finally:
        await alice.close()
        await ws.close()


async def test_a_bot_edits_and_deletes_its_own_message_seen_live(
    api: tuple[str, Application],
) -> None:
    url, _ = api
    alice = await _joined(url, "alice")
    try:
        message = await _posted(url, "draft")
        one = f"{POSTS}/{message['id']}"
        key = {"Idempotency-Key": "fix-1"}
        status, answer = await call(url, "PATCH", one, json={"text": " final "}, headers=key)
        assert status == 200
        edited = ok(answer)
        assert (edited["message"], edited["id"], edited["seq"]) == ("final", message["id"], 1)
        assert edited["editedAt"] is not None
        heard = await alice.wait_for("message-edited", lambda d: d["id"] == message["id"])
        assert heard["message"] == "final"
        # A retry with the key answers the message as it is and sends nothing again.
        again = await call(url, "PATCH", one, json={"text": " final "}, headers=key)
        assert again == (200, answer)
        # Nor does a late one undo a later edit.
        assert ok((await call(url, "PATCH", one, json={"text": "later"}))[1])["message"] == "later"
        late = await call(url, "PATCH", one, json={"text": " final "}, headers=key)
        assert ok(late[1])["message"] == "later"
        failed(await call(url, "PATCH", one, json={"text": ""}), 400, "invalid_message")
        failed(await call(url, "PATCH", one, json=["final"]), 400, "invalid_payload")
        failed(
            await call(url, "PATCH", f"{POSTS}/nosuch", json={"text": "x"}),
            404,
            "message_not_found",
        )
        failed(
            await call(url, "PATCH", "/rooms/nowhere/messages/x", json={"text": "x"}),
            404,
            "room_not_found",
        )
        # Another bot's message, or a user's, is not the caller's to edit or delete.
        failed(await call(url, "PATCH", one, key=OTHER_KEY, json={"text": "x"}), 403, "not_author")
        failed(await call(url, "DELETE", one, key=OTHER_KEY), 403, "not_author")
        theirs = ok(await alice.call("send-message", {"room": "general", "text": "alice's"}))
        failed(await call(url, "DELETE", f"{POSTS}/{theirs['id']}"), 403, "not_author")
        status, answer = await call(url, "DELETE", one)
        assert status == 200
        assert (ok(answer)["deleted"], ok(answer)["message"]) == (True, "")
        await alice.wait_for("message-deleted", lambda d: d["id"] == message["id"])
        assert (await call(url, "DELETE", one))[0] == 200  # a second delete changes nothing
        failed(await call(url, "PATCH", one, json={"text": "back"}), 409, "message_deleted")
        await sentinel(await _joined(url, "sender"), alice)
        assert [e["message"] for e in alice.events("message-edited")] == ["final", "later"]
        assert len(alice.events("message-deleted")) == 1
    finally:
        await alice.close()


async def test_a_bot_reacts_once_per_idempotency_key(api: tuple[str, Application]) -> None:
    url, _ = api
    alice, ws = await _joined(url, "alice"), await _ws_joined(url, "wsreader")
    try:
        theirs = ok(await alice.call("send-message", {"room": "general", "text": "shipped"}))
        path = f"{POSTS}/{theirs['id']}/reactions"
        key = {"Idempotency-Key": "cheer-1"}
        status, answer = await call(url, "POST", path, json={"emoji": "🎉"}, headers=key)
        assert status == 200
        reactions = [{"emoji": "🎉", "count": 1, "usernames": ["newsbot"]}]
        assert ok(answer)["reactions"] == reactions
        assert (await call(url, "POST", path, json={"emoji": "🎉"}, headers=key)) == (
            status,
            answer,
        )
        await alice.wait_for("reaction-changed", lambda d: d["id"] == theirs["id"])
        await ws.wait_for("reaction-changed", lambda d: d["id"] == theirs["id"])
        failed(await call(url, "POST", path, json={"emoji": "yes"}), 400, "invalid_emoji")
        failed(await call(url, "POST", path, json={"emoji": "🎉", "on": 1}), 400, "invalid_payload")
        gone = await call(url, "POST", path, json={"emoji": "🎉", "on": False})
        assert ok(gone[1])["reactions"] == []
        # A late retry of the first request gives the reaction nothing again.
        late = await call(url, "POST", path, json={"emoji": "🎉"}, headers=key)
        assert ok(late[1])["reactions"] == []
        await sentinel(await _joined(url, "sender"), alice)
        assert len(alice.events("reaction-changed")) == 2  # given once, taken back once
    finally:
        await alice.close()
        await ws.close()


async def test_an_edit_after_the_window_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/rtchat.db", api_keys=f"newsbot:{KEY}", edit_window=0.2
    )
    async with running_server(settings) as (url, _):
        message = await _posted(url, "soon old")
        await asyncio.sleep(0.3)
        path = f"{POSTS}/{message['id']}"
        failed(await call(url, "PATCH", path, json={"text": "x"}), 403, "edit_window_passed")
        assert (await call(url, "DELETE", path))[0] == 200  # deleting has no window


async def test_a_bot_searches_one_public_room_in_pages(api: tuple[str, Application]) -> None:
    url, _ = api
    alice, bob = await _joined(url, "alice"), await _joined(url, "bob")
    try:
        for n in range(3):
            await _posted(url, f"deploy {n} done")
        ok(await alice.call("create-room", {"name": "ops"}))
        ok(await alice.call("send-message", {"room": "ops", "text": "deploy in ops"}))
        dm = ok(await alice.call("open-dm", {"username": "bob"}))["room"]["name"]
        ok(await alice.call("send-message", {"room": dm, "text": "deploy secretly"}))
        search = "/rooms/general/search?q=DEPLOY"
        first = ok((await call(url, "GET", search + "&limit=2"))[1])
        assert [m["message"] for m in first["messages"]] == ["deploy 2 done", "deploy 1 done"]
        assert first["next"] is not None
        rest = ok((await call(url, "GET", f"{search}&before={first['next']}"))[1])
        assert [m["message"] for m in rest["messages"]] == ["deploy 0 done"]
        assert rest["next"] is None
        # The socket op pages the same way (alice is in general and ops: only general asked).
        by_socket = ok(await alice.call("search", {"query": "deploy", "room": "general"}))
        assert ok((await call(url, "GET", search))[1]) == by_socket
        # A room the bot did not join is still a public room it reads; a DM never is.
        ops = ok((await call(url, "GET", "/rooms/ops/search?q=deploy"))[1])
        assert [m["message"] for m in ops["messages"]] == ["deploy in ops"]
        failed(await call(url, "GET", f"/rooms/{dm}/search?q=deploy"), 403, "forbidden")
        failed(await call(url, "GET", "/rooms/nowhere/search?q=x"), 404, "room_not_found")
        for query in ("", "?q=", "?q=%21%21", "?q=x&limit=0", "?q=x&before=nope"):
            failed(await call(url, "GET", "/rooms/general/search" + query), 400, "invalid_payload")
    finally:
        await alice.close()
        await bob.close()


def _token(sub: str, name: str) -> str:
    claims = {"sub": sub, "name": name, "exp": int(time.time() + 300)}
    return jwt.encode(claims, SECRET, algorithm="HS256")


async def test_a_site_user_searches_its_rooms_and_moves_its_read_marker(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/rtchat.db",
        jwt_secret=SECRET,
        api_keys=f"newsbot:{KEY}",
    )
    async with running_server(settings) as (url, _):
        carol, dave = _token("site-7", "carol"), _token("site-8", "dave")
        ok((await call(url, "POST", "/rooms", key=carol, json={"name": "carols"}))[1])
        body = {"text": "secret plan"}
        ok((await call(url, "POST", "/rooms/carols/messages", key=carol, json=body))[1])
        found = ok((await call(url, "GET", "/rooms/carols/search?q=plan", key=carol))[1])
        assert [m["message"] for m in found["messages"]] == ["secret plan"]
        # dave is no member of carol's room: nothing of it, by search or by marker.
        failed(await call(url, "GET", "/rooms/carols/search?q=plan", key=dave), 403, "forbidden")
        seq = {"seq": 1}
        marker = "/rooms/carols/read-marker"
        failed(await call(url, "PUT", marker, key=dave, json=seq), 403, "forbidden")
        # carol's other tab hears her marker move; a bot has no marker.
        tab = await ChatClient(url, auth={"token": carol}).connect()
        try:
            ok(await tab.call("session"))
            for n in range(2):
                await _posted(url, f"news {n}")
            status, answer = await call(
                url, "PUT", "/rooms/general/read-marker", key=carol, json=seq
            )
            assert status == 200
            state = {"room": "general", "seq": 1, "unread": 1, "mentions": 0}
            assert ok(answer) == state
            assert await tab.wait_for("read-marker") == state
        finally:
            await tab.close()
        failed(await call(url, "PUT", marker, json=seq), 403, "forbidden")
        failed(await call(url, "PUT", marker, key=carol, json={"seq": -1}), 400, "invalid_payload")
        failed(
            await call(url, "PUT", "/rooms/none/read-marker", key=carol, json=seq),
            404,
            "room_not_found",
        )


async def test_a_site_user_changes_messages_with_its_accounts_rights(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", jwt_secret=SECRET)
    async with running_server(settings) as (url, _):
        carol, dave = _token("site-7", "carol"), _token("site-8", "dave")
        ok((await call(url, "POST", "/rooms", key=carol, json={"name": "carols"}))[1])
        client = await ChatClient(url, auth={"token": dave}).connect()
        try:
            ok(await client.call("join-room", {"room": "carols"}))
        finally:
            await client.close()
        posts = "/rooms/carols/messages"
        said = [
            ok((await call(url, "POST", posts, key=dave, json={"text": f"dave {n}"}))[1])
            for n in range(2)
        ]
        owner = await ChatClient(url, auth={"token": carol}).connect()
        try:
            ok(await owner.call("mute", {"room": "carols", "username": "dave", "seconds": 60}))
            first, second = (f"{posts}/{m['id']}" for m in said)
            # Muted: dave neither edits nor reacts there (read from the store: dave has no
            # connection on this node), but may delete his own.
            failed(await call(url, "PATCH", first, key=dave, json={"text": "x"}), 403, "muted")
            react = {"emoji": "👍"}
            failed(
                await call(url, "POST", first + "/reactions", key=dave, json=react), 403, "muted"
            )
            assert ok((await call(url, "DELETE", first, key=dave))[1])["deleted"] is True
            # carol owns the room: she deletes dave's message, but edits only her own.
            failed(
                await call(url, "PATCH", second, key=carol, json={"text": "x"}), 403, "not_author"
            )
            assert ok((await call(url, "DELETE", second, key=carol))[1])["deleted"] is True
            await owner.wait_for("message-deleted", lambda d: d["id"] == said[1]["id"])
            # dave searches general, where every account is.
            ok((await call(url, "POST", POSTS, key=carol, json={"text": "general news"}))[1])
            found = ok((await call(url, "GET", "/rooms/general/search?q=news", key=dave))[1])
            assert [m["message"] for m in found["messages"]] == ["general news"]
        finally:
            await owner.close()
