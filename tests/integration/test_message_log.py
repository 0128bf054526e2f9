"""Edits, deletes, reactions and replies over real connections (python-socketio and
`/ws`): each change takes the room's next number and reaches every member once, in order
with the messages; each refusal has its code, with and without an acknowledgement; and
what changed while a client was cut reaches it once, through `sync`.

Absence is shown by a sentinel (see tests/support.py), never by sleeping.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rtchat.settings import Settings
from tests.proxy import CuttableProxy
from tests.support import (
    ChatClient,
    Connect,
    error_code,
    ok,
    refused,
    running_server,
    sentinel,
    until_connections,
)
from tests.ws_client import WsClient

LOGGED = ("receive-message", "message-edited", "message-deleted", "reaction-changed")


def in_room(client: ChatClient | WsClient, room: str) -> list[tuple[str, Any]]:
    """The room's log as `client` heard it: (event, payload) of every numbered event."""
    return [(e, d) for e, d in client.received if e in LOGGED and d["room"] == room]


async def pair(clients: Connect) -> tuple[ChatClient, ChatClient]:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    return alice, bob


async def test_changes_reach_the_room_once_in_order_with_the_messages(clients: Connect) -> None:
    alice, bob = await pair(clients)
    posted = ok(await alice.call("send-message", {"room": "general", "text": "helo"}))
    assert (posted["replyTo"], posted["editedAt"], posted["deleted"], posted["reactions"]) == (
        None,
        None,
        False,
        [],
    )
    target = {"room": "general", "id": posted["id"]}

    edit = {**target, "text": "hello", "clientId": "e1"}
    edited = ok(await alice.call("edit-message", edit))
    assert (edited["id"], edited["seq"], edited["message"]) == (
        posted["id"],
        posted["seq"],
        "hello",
    )
    assert edited["editedAt"] is not None
    pushed = await bob.wait_for("message-edited")
    assert pushed == {
        "room": "general",
        "seq": posted["seq"] + 1,
        "id": posted["id"],
        "username": "alice",
        "accountId": posted["accountId"],
        "guest": False,
        "timestamp": edited["editedAt"],
        "message": "hello",
        "editedAt": edited["editedAt"],
    }
    assert ok(await alice.call("edit-message", edit)) == edited  # a retry: nothing twice
    assert ok(await alice.call("edit-message", {**target, "text": "hello"})) == edited

    liked = ok(await bob.call("react", {**target, "emoji": "👍"}))
    assert liked["reactions"] == [{"emoji": "👍", "count": 1, "usernames": ["bob"]}]
    ok(await alice.call("react", {**target, "emoji": "👍", "on": True}))
    again = ok(await bob.call("react", {**target, "emoji": "👍"}))  # on already: nothing
    assert again["reactions"] == [{"emoji": "👍", "count": 2, "usernames": ["bob", "alice"]}]
    taken = ok(await alice.call("react", {**target, "emoji": "👍", "on": False}))
    assert taken["reactions"] == liked["reactions"]

    reply = ok(
        await bob.call("send-message", {"room": "general", "text": "hi!", "replyTo": posted["id"]})
    )
    assert reply["replyTo"] == {
        "id": posted["id"],
        "seq": posted["seq"],
        "username": "alice",
        "message": "hello",
        "deleted": False,
    }
    gone = ok(await alice.call("delete-message", {**target, "clientId": "d1"}))
    assert (gone["deleted"], gone["message"], gone["reactions"]) == (True, "", [])
    assert ok(await alice.call("delete-message", target)) == gone  # deleted already

    marker = await sentinel(alice, alice, bob)
    for client in (alice, bob):
        log = in_room(client, "general")
        assert [d["seq"] for _, d in log] == list(range(posted["seq"], marker["seq"] + 1))
        assert [(e, d.get("on")) for e, d in log] == [
            ("receive-message", None),
            ("message-edited", None),
            ("reaction-changed", True),
            ("reaction-changed", True),
            ("reaction-changed", False),
            ("receive-message", None),
            ("message-deleted", None),
            ("receive-message", None),
        ]
        assert [d["count"] for e, d in log if e == "reaction-changed"] == [1, 2, 1]

    # History shows the room as it stands: a tombstone, and a reply quoting one.
    page = ok(await bob.call("history", {"room": "general", "before": marker["seq"]}))
    by_id = {m["id"]: m for m in page["messages"]}
    assert by_id[posted["id"]] == gone
    assert by_id[reply["id"]]["replyTo"] == {**reply["replyTo"], "message": "", "deleted": True}
    joined = ok(await bob.call("join-room", {"room": "general"}))
    assert {m["id"]: m for m in joined["messages"]}[posted["id"]] == gone


async def test_refusals_of_changes_with_and_without_ack(clients: Connect) -> None:
    alice, bob = await pair(clients)
    mine = ok(await alice.call("send-message", {"room": "general", "text": "mine"}))
    gone = ok(await alice.call("send-message", {"room": "general", "text": "gone"}))
    ok(await alice.call("delete-message", {"room": "general", "id": gone["id"]}))
    ok(await bob.call("create-room", {"name": "dev"}))
    theirs = ok(await bob.call("send-message", {"room": "dev", "text": "bob's"}))
    before = await sentinel(alice, alice, bob)
    alice.received.clear()
    bob.received.clear()

    cases = {
        "not_author": [
            ("edit-message", {"room": "general", "id": mine["id"], "text": "bob was here"}),
            ("delete-message", {"room": "general", "id": mine["id"]}),
        ],
        "message_deleted": [
            ("edit-message", {"room": "general", "id": gone["id"], "text": "back"}),
            ("react", {"room": "general", "id": gone["id"], "emoji": "👍"}),
            ("react", {"room": "general", "id": gone["id"], "emoji": "👍", "on": False}),
        ],
        # A message of another room is no message of this one, even for its author.
        "message_not_found": [
            ("edit-message", {"room": "general", "id": theirs["id"], "text": "moved"}),
            ("send-message", {"room": "general", "text": "re", "replyTo": theirs["id"]}),
        ],
    }
    for code, requests in cases.items():
        for i, request in enumerate(requests):
            client = alice if code == "message_deleted" else bob
            await refused(client, request, code, no_ack=i == 0)
    # Nobody heard of anything: the room's log did not move.
    marker = await sentinel(alice, alice, bob)
    assert marker["seq"] == before["seq"] + 1
    assert in_room(bob, "general") == [("receive-message", marker)]
    stored = ok(await bob.call("history", {"room": "general", "before": marker["seq"]}))
    assert {m["id"]: m["message"] for m in stored["messages"]}[mine["id"]] == "mine"


async def test_the_edit_window_closes_edits_but_not_deletes(tmp_path: Path) -> None:
    window = 0.3
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", edit_window=window)
    async with running_server(settings) as (url, _):
        alice = await ChatClient(url).connect()
        try:
            await alice.join("alice")
            posted = ok(await alice.call("send-message", {"room": "general", "text": "soon"}))
            target = {"room": "general", "id": posted["id"]}
            ok(await alice.call("edit-message", {**target, "text": "sooner"}))
            await asyncio.sleep(window * 2)  # time has to pass: nothing to wait for
            late = ("edit-message", {**target, "text": "too late"})
            await refused(alice, late, "edit_window_passed", no_ack=True)
            assert ok(await alice.call("delete-message", target))["deleted"] is True
        finally:
            await alice.close()


async def test_ws_clients_edit_delete_and_react_like_socketio_ones(
    server: str, clients: Connect
) -> None:
    alice = await WsClient.open(server)
    try:
        await alice.join("alice")
        bob = await clients()
        await bob.join("bob")
        posted = ok(await alice.call("send-message", {"room": "general", "text": "over ws"}))
        target = {"room": "general", "id": posted["id"]}
        bobs = ok(await bob.call("send-message", {"room": "general", "text": "over sio"}))

        edited = ok(await alice.call("edit-message", {**target, "text": "edited over ws"}))
        assert (await bob.wait_for("message-edited"))["message"] == "edited over ws"
        ok(await bob.call("react", {**target, "emoji": "🎉"}))
        pushed = await alice.wait_for("reaction-changed")
        assert (pushed["id"], pushed["emoji"], pushed["on"], pushed["count"]) == (
            posted["id"],
            "🎉",
            True,
            1,
        )
        assert pushed["seq"] == edited["seq"] + 3  # bob's message, the edit, the reaction
        reply = {"room": "general", "text": "re", "replyTo": bobs["id"]}
        assert ok(await alice.call("send-message", reply))["replyTo"]["username"] == "bob"
        for code, op, data in (
            ("not_author", "delete-message", {"room": "general", "id": bobs["id"]}),
            ("invalid_emoji", "react", {**target, "emoji": "lol"}),
            ("message_not_found", "edit-message", {"room": "general", "id": "x", "text": "y"}),
            ("invalid_payload", "react", {**target, "emoji": "👍", "on": 1}),
        ):
            assert error_code(await alice.call(op, data)) == code
        ok(await alice.call("delete-message", target))
        assert (await bob.wait_for("message-deleted"))["id"] == posted["id"]
        assert error_code(await alice.call("edit-message", {**target, "text": "z"})) == (
            "message_deleted"
        )
        await sentinel(bob, bob)
        log = in_room(alice, "general")
        assert [d["seq"] for _, d in log] == list(range(posted["seq"], log[-1][1]["seq"] + 1))
    finally:
        await alice.close()


async def test_what_changed_while_cut_reaches_the_client_once_through_sync(
    server: str, clients: Connect
) -> None:
    port = int(server.rsplit(":", 1)[1])
    proxy = CuttableProxy(port)
    await proxy.start()
    try:
        alice = await clients()
        await alice.join("alice")
        ok(await alice.call("create-room", {"name": "dev"}))
        bob = await ChatClient(f"http://127.0.0.1:{proxy.port}").connect()
        token = (await bob.join("bob"))["token"]
        ok(await bob.call("join-room", {"room": "dev"}))
        sent = [
            ok(await alice.call("send-message", {"room": "dev", "text": f"m{i}"})) for i in range(3)
        ]
        seen = await bob.wait_for("receive-message", lambda d: d["id"] == sent[2]["id"])
        proxy.cut()
        await until_connections(server, 1)  # bob's connection is gone; alice's stays

        ok(await alice.call("edit-message", {"room": "dev", "id": sent[0]["id"], "text": "m0!"}))
        ok(await alice.call("delete-message", {"room": "dev", "id": sent[1]["id"]}))
        ok(await alice.call("react", {"room": "dev", "id": sent[2]["id"], "emoji": "👀"}))
        new = ok(await alice.call("send-message", {"room": "dev", "text": "m3"}))

        back = await clients(auth={"token": token})
        missed = ok(await back.call("sync", {"rooms": {"dev": seen["seq"]}}))["rooms"]["dev"]
        assert missed["hasMore"] is False
        assert missed["seq"] == new["seq"] == seen["seq"] + 4
        messages = missed["messages"]
        assert [m["id"] for m in messages] == [*(m["id"] for m in sent), new["id"]]  # once each
        assert [(m["message"], m["deleted"]) for m in messages] == [
            ("m0!", False),
            ("", True),
            ("m2", False),
            ("m3", False),
        ]
        assert messages[0]["editedAt"] is not None
        assert messages[2]["reactions"] == [{"emoji": "👀", "count": 1, "usernames": ["alice"]}]
        # From where it now stands there is nothing more, and nothing came live twice.
        again = ok(await back.call("sync", {"rooms": {"dev": missed["seq"]}}))["rooms"]["dev"]
        assert again == {"messages": [], "hasMore": False, "seq": missed["seq"]}
        await sentinel(alice, back)
        assert in_room(back, "dev") == []
    finally:
        await proxy.close()
