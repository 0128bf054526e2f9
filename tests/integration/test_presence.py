"""Presence over real connections: one user in several tabs is online once.

A second tab connects with the token the first got from `user-joined`. Absence is
proved with a sentinel in `general`; a closed tab is known to be gone once the server's
health route stops counting its connection.
"""

from __future__ import annotations

from typing import Any

from tests.integration.conftest import OpenWs
from tests.support import ChatClient, Connect, ok, sentinel, until_connections


async def _online(client: ChatClient, room: str = "general") -> list[str]:
    users = ok(await client.call("list-online", {"room": room}))["users"]
    return [u["username"] for u in users]


async def test_two_tabs_of_one_user_count_once(clients: Connect) -> None:
    bob = await clients()
    await bob.join("bob")
    tab1 = await clients()
    joined = await tab1.join("alice")
    tab2 = await clients(auth={"token": joined["token"]})

    session = ok(await tab2.call("session"))
    assert session["user"] == joined["user"]
    assert [r["name"] for r in session["rooms"]] == ["general"]
    assert [u["username"] for u in session["online"]] == ["alice", "bob"]
    for client in (bob, tab1, tab2):
        assert await _online(client) == ["alice", "bob"]

    # The second tab is alice without a `user-joined` of its own, and came online silently.
    sent = ok(await tab2.call("send-message", "from tab 2"))
    assert (sent["userId"], sent["accountId"]) == (tab2.sio.get_sid(), joined["user"]["accountId"])
    await sentinel(tab2, bob, tab1)
    announced = [u for u in bob.events("user-connected") if u["username"] == "alice"]
    assert len(announced) == 1
    assert tab2.events("user-connected") == []


async def test_closing_one_tab_is_silent_closing_the_last_announces(
    server: str, clients: Connect
) -> None:
    bob = await clients()
    await bob.join("bob")
    tab1 = await clients()
    joined = await tab1.join("alice")
    tab2 = await clients(auth={"token": joined["token"]})

    await tab1.close()
    await until_connections(server, 2)
    await sentinel(tab2, bob)
    assert bob.events("user-disconnected") == []
    assert await _online(bob) == ["alice", "bob"]

    last = tab2.sio.get_sid()
    await tab2.close()
    gone = await bob.wait_for("user-disconnected")
    assert (gone["username"], gone["accountId"]) == ("alice", joined["user"]["accountId"])
    assert gone["userId"] == last  # the connection whose close took her offline
    assert await _online(bob) == ["bob"]
    await sentinel(bob, bob)
    assert len(bob.events("user-disconnected")) == 1


async def test_session_names_the_tokens_user(clients: Connect) -> None:
    first = await clients()
    joined = await first.join("alice")
    ok(await first.call("create-room", {"name": "dev"}))
    again = await clients(auth={"token": joined["token"]})
    session = ok(await again.call("session"))
    assert session["user"] == joined["user"]
    assert [r["name"] for r in session["rooms"]] == ["dev", "general"]
    # `user-joined` under the same name on that connection answers the same session.
    assert (await again.join("ALICE"))["user"] == joined["user"]


async def test_a_bad_token_gives_no_user(clients: Connect) -> None:
    alice = await clients()
    await alice.join("alice")
    for auth in ({"token": "not-a-token"}, {"token": 12345}, {"token": "x" * 500}, {}):
        stranger = await clients(auth=auth)
        session = ok(await stranger.call("session"))
        assert session["user"] is None, auth
        assert session["rooms"] == []
        assert [u["username"] for u in session["online"]] == ["alice"]
        assert "token" not in session
        # Such a connection is not joined, and can still join under a name of its own.
        refused = await stranger.call("send-message", "hi")
        assert refused["error"]["code"] == "not_joined"
        await stranger.close()
    unjoined = await clients()
    assert ok(await unjoined.call("session"))["user"] is None


async def test_every_tab_follows_the_users_rooms(clients: Connect) -> None:
    bob = await clients()
    await bob.join("bob")
    tab1 = await clients()
    joined = await tab1.join("alice")
    tab2 = await clients(auth={"token": joined["token"]})

    # A room joined in one tab is live in the other, which is told about it.
    ok(await bob.call("create-room", {"name": "dev"}))
    ok(await tab1.call("join-room", {"room": "dev"}))
    assert (await tab2.wait_for("room-added"))["room"]["name"] == "dev"
    ok(await bob.call("send-message", {"room": "dev", "text": "hello dev"}))
    for tab in (tab1, tab2):
        await tab.wait_for("receive-message", lambda d: d["message"] == "hello dev")
    ok(await tab2.call("send-message", {"room": "dev", "text": "from tab 2"}))
    await bob.wait_for("receive-message", lambda d: d["message"] == "from tab 2")

    # Leaving in one tab leaves in all of them.
    ok(await tab2.call("leave-room", {"room": "dev"}))
    ok(await bob.call("send-message", {"room": "dev", "text": "after alice left"}))
    await sentinel(bob, tab1, tab2)
    for tab in (tab1, tab2):
        texts = [m["message"] for m in tab.events("receive-message") if m["room"] == "dev"]
        assert texts == ["hello dev", "from tab 2"]

    # A DM opened with alice reaches both tabs.
    dm = ok(await bob.call("open-dm", {"username": "alice"}))["room"]["name"]
    for tab in (tab1, tab2):
        await tab.wait_for("room-added", lambda d: d["room"]["name"] == dm)
    ok(await bob.call("send-message", {"room": dm, "text": "psst"}))
    for tab in (tab1, tab2):
        await tab.wait_for("receive-message", lambda d: d["message"] == "psst")

    # Rooms created and DMs opened in one tab are announced to the other tabs only.
    ok(await tab1.call("create-room", {"name": "ops"}))
    assert await tab2.wait_for("room-added", lambda d: d["room"]["name"] == "ops")
    carol = await clients()
    await carol.join("carol")
    to_carol = ok(await tab2.call("open-dm", {"username": "carol"}))["room"]["name"]
    await tab1.wait_for("room-added", lambda d: d["room"]["name"] == to_carol)
    await sentinel(bob, tab1, tab2)
    assert [e["room"]["name"] for e in tab1.events("room-added")] == [dm, to_carol]
    assert [e["room"]["name"] for e in tab2.events("room-added")] == ["dev", dm, "ops"]


async def test_list_online_counts_a_rooms_online_members(clients: Connect) -> None:
    alice, bob, carol = [await clients() for _ in range(3)]
    await alice.join("alice")
    await bob.join("bob")
    await carol.join("carol")
    ok(await alice.call("create-room", {"name": "dev"}))
    ok(await bob.call("join-room", {"room": "dev"}))
    assert await _online(carol) == ["alice", "bob", "carol"]
    assert await _online(alice, "dev") == ["alice", "bob"]

    await bob.close()
    await alice.wait_for("user-disconnected", lambda d: d["username"] == "bob")
    assert await _online(alice, "dev") == ["alice"]
    assert await _online(carol) == ["alice", "carol"]


async def test_announcements_never_come_after_what_follows_them(
    clients: Connect, ws_clients: OpenWs
) -> None:
    """Announcements may wait for the recipient's next write (transport/delivery.py), so
    each watcher must still see bob come online, join and leave `dev` before the messages
    he sent after each, and see them without anything else sent to push them out."""
    sio_watcher = await clients()
    await sio_watcher.join("carol")
    ws_watcher = await ws_clients()
    await ws_watcher.join("dave")
    ok(await sio_watcher.call("create-room", {"name": "dev"}))
    ok(await ws_watcher.call("join-room", {"room": "dev"}))

    bob = await clients()
    await bob.join("bob")
    ok(await bob.call("send-message", "after joining"))
    ok(await bob.call("join-room", {"room": "dev"}))
    ok(await bob.call("send-message", {"room": "dev", "text": "after entering"}))
    ok(await bob.call("leave-room", {"room": "dev"}))
    ok(await bob.call("send-message", "after leaving"))
    await bob.close()

    def bobs(event: str, data: Any) -> str | None:
        if event == "receive-message" and data["username"] == "bob":
            return str(data["message"])
        if event in ("user-connected", "user-disconnected") and data["username"] == "bob":
            return event
        if event in ("member-joined", "member-left") and data["user"]["username"] == "bob":
            return event
        return None

    expected = [
        "user-connected",
        "after joining",
        "member-joined",
        "after entering",
        "member-left",
        "after leaving",
        "user-disconnected",
    ]
    for watcher in (sio_watcher, ws_watcher):
        # The last announcement is followed by nothing: the later flush must send it.
        await watcher.wait_for("user-disconnected", lambda d: d["username"] == "bob")
        seen = [b for event, data in watcher.received if (b := bobs(event, data)) is not None]
        assert seen == expected
