"""Read markers, mentions and search over real connections: Socket.IO and `/ws`.

A read marker is the account's: marking a room read on one tab reaches every tab of that
account (`read-marker`), and the counts in `session` and `list-rooms` follow it. Search
answers only from rooms the account can read, whichever way it asks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rtchat.domain.errors import ErrorCode
from rtchat.domain.rules import MAX_SEARCH_QUERY
from rtchat.service import MAX_SEARCH_PAGE
from rtchat.settings import Settings
from tests.integration.conftest import OpenWs
from tests.pg import fresh_database
from tests.support import Connect, error_code, ok, refused, sentinel


@pytest.fixture(params=["sqlite", "postgres"])
async def settings(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Settings]:
    """Each test on the embedded default and on PostgreSQL."""
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db")
        return
    async with fresh_database() as url:
        yield Settings(database_url=url)


def counts(rooms: list[dict[str, Any]], name: str) -> tuple[int, int]:
    room = next(r for r in rooms if r["name"] == name)
    return room["unread"], room["mentions"]


async def test_mark_read_reaches_every_tab_and_moves_the_counts(
    clients: Connect, ws_clients: OpenWs
) -> None:
    tab1, bob = await clients(), await clients()
    session = await tab1.join("alice")
    tab2 = await clients(auth={"token": session["token"]})
    tab3 = await ws_clients()
    await tab3.hello(token=session["token"])
    await bob.join("bob")
    ok(await bob.call("create-room", {"name": "dev"}))
    ok(await tab1.call("join-room", {"room": "dev"}))
    for text in ("one", "hey @alice", "three", "@Alice! again"):
        ok(await bob.call("send-message", {"room": "dev", "text": text}))
    ok(await tab1.call("send-message", {"room": "dev", "text": "mine, never unread"}))

    for tab in (tab1, tab2, tab3):
        assert counts(ok(await tab.call("session"))["rooms"], "dev") == (4, 2)
        assert counts(ok(await tab.call("list-rooms"))["rooms"], "dev") == (4, 2)

    state = ok(await tab2.call("mark-read", {"room": "dev", "seq": 2}))
    assert state == {"room": "dev", "seq": 2, "unread": 2, "mentions": 1}
    for tab in (tab1, tab2, tab3):
        assert await tab.wait_for("read-marker") == state
    for tab in (tab1, tab3):
        assert counts(ok(await tab.call("session"))["rooms"], "dev") == (2, 1)

    # Never back (and then nobody is told); past the end is the end.
    assert ok(await tab1.call("mark-read", {"room": "dev", "seq": 1})) == state
    assert ok(await tab1.call("mark-read", {"room": "dev", "seq": 2})) == state
    last = ok(await tab3.call("mark-read", {"room": "dev", "seq": 10**9}))
    assert last == {"room": "dev", "seq": 5, "unread": 0, "mentions": 0}
    for tab in (tab1, tab2, tab3):
        assert await tab.wait_for("read-marker", lambda d: d["seq"] == 5) == last
        assert tab.events("read-marker") == [state, last]
    # Bob's counts are his own: he read nothing, and wrote most of it.
    assert counts(ok(await bob.call("session"))["rooms"], "dev") == (1, 0)
    await sentinel(tab1, bob)
    assert bob.events("read-marker") == []


async def test_mentions_name_members_only(clients: Connect) -> None:
    alice, bob, carol = await clients(), await clients(), await clients()
    alice_user = (await alice.join("alice"))["user"]
    await bob.join("bob")
    await carol.join("carol")
    ok(await bob.call("create-room", {"name": "dev"}))
    ok(await alice.call("join-room", {"room": "dev"}))
    sent = ok(await bob.call("send-message", {"room": "dev", "text": "@ALICE and @carol, hi"}))
    mention = {"accountId": alice_user["accountId"], "username": "alice"}
    assert sent["mentions"] == [mention]  # carol is no member of dev
    assert (await alice.wait_for("receive-message", lambda d: d["room"] == "dev")) == sent
    history = ok(await alice.call("history", {"room": "dev", "before": 10}))
    assert history["messages"] == [sent]
    plain = ok(await bob.call("send-message", {"room": "dev", "text": "mail a@b.c"}))
    assert plain["mentions"] == []


async def test_search_pages_newest_first_and_never_leaks(
    clients: Connect, ws_clients: OpenWs
) -> None:
    alice, bob, carol = await clients(), await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    await carol.join("carol")
    ok(await carol.call("create-room", {"name": "left"}))
    ok(await alice.call("join-room", {"room": "left"}))
    dm = ok(await bob.call("open-dm", {"username": "carol"}))["room"]["name"]
    sent = [
        ok(await bob.call("send-message", {"room": "general", "text": f"needle {i}"}))
        for i in range(5)
    ]
    ok(await carol.call("send-message", {"room": "left", "text": "needle in left"}))
    ok(await bob.call("send-message", {"room": dm, "text": "needle in a DM"}))
    ok(await alice.call("leave-room", {"room": "left"}))

    pages: list[list[dict[str, Any]]] = []
    before = None
    for _ in range(5):
        request: dict[str, Any] = {"query": "NEEDLE", "limit": 2}
        if before is not None:
            request["before"] = before
        page = ok(await alice.call("search", request))
        pages.append(page["messages"])
        before = page["next"]
        if before is None:
            break
    assert pages == [sent[4:2:-1], sent[2:0:-1], sent[0:1]]
    # Carol reads her DM and the room alice left; the /ws client asks the same.
    ws = await ws_clients()
    await ws.hello(token=(await carol.call("session"))["data"]["token"])
    for client in (carol, ws):
        found = ok(await client.call("search", {"query": "needle in"}))
        assert [m["message"] for m in found["messages"]] == ["needle in a DM", "needle in left"]
        assert found["next"] is None
    assert ok(await alice.call("search", {"query": "needle dm"}))["messages"] == []
    for room, code in ((dm, "forbidden"), ("left", "forbidden"), ("nowhere", "room_not_found")):
        assert error_code(await alice.call("search", {"query": "needle", "room": room})) == code
    found = ok(await carol.call("search", {"query": "needle", "room": dm}))
    assert [m["room"] for m in found["messages"]] == [dm]


async def test_query_syntax_is_only_words(clients: Connect) -> None:
    alice = await clients()
    await alice.join("alice")
    sent = ok(await alice.call("send-message", 'what about NEAR(a b) OR "quotes"?'))
    for query in ('"quotes', "NEAR(a", "OR", "about*", "a OR", "-what", "b)"):
        found = ok(await alice.call("search", {"query": query}))["messages"]
        assert found == [sent], query


REFUSED: list[tuple[str, Any, ErrorCode]] = [
    ("mark-read", {"room": "general", "seq": -1}, ErrorCode.INVALID_PAYLOAD),
    ("mark-read", {"room": "general"}, ErrorCode.INVALID_PAYLOAD),
    ("mark-read", "general", ErrorCode.INVALID_PAYLOAD),
    ("mark-read", {"room": "nowhere", "seq": 1}, ErrorCode.ROOM_NOT_FOUND),
    ("mark-read", {"room": "Not valid!", "seq": 1}, ErrorCode.INVALID_ROOM_NAME),
    ("mark-read", {"room": "dev", "seq": 1}, ErrorCode.FORBIDDEN),
    ("search", {"query": ""}, ErrorCode.INVALID_PAYLOAD),
    ("search", {"query": "x" * (MAX_SEARCH_QUERY + 1)}, ErrorCode.INVALID_PAYLOAD),
    ("search", {"query": "..."}, ErrorCode.INVALID_PAYLOAD),
    ("search", {"query": "hi", "before": "1:2"}, ErrorCode.INVALID_PAYLOAD),
    ("search", {"query": "hi", "limit": MAX_SEARCH_PAGE + 1}, ErrorCode.INVALID_PAYLOAD),
    ("search", "hi", ErrorCode.INVALID_PAYLOAD),
    ("search", {"query": "hi", "room": "nowhere"}, ErrorCode.ROOM_NOT_FOUND),
    ("search", {"query": "hi", "room": "Not valid!"}, ErrorCode.INVALID_ROOM_NAME),
    ("search", {"query": "hi", "room": "dev"}, ErrorCode.FORBIDDEN),
]


async def test_every_refusal_with_and_without_ack(clients: Connect, ws_clients: OpenWs) -> None:
    alice, bob, stranger = await clients(), await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    ok(await bob.call("create-room", {"name": "dev"}))
    ws = await ws_clients()
    await ws.hello(token=(await alice.call("session"))["data"]["token"])
    alice.received.clear()
    for event, payload, code in REFUSED:
        await refused(alice, (event, payload), str(code), no_ack=True)
        assert error_code(await ws.call(event, payload)) == code
    for event, payload in (
        ("mark-read", {"room": "general", "seq": 0}),
        ("search", {"query": "a"}),
    ):
        await refused(stranger, (event, payload), "not_joined", no_ack=True)
    await sentinel(bob, alice)
    assert alice.events("read-marker") == []


async def test_guests_have_no_markers_and_no_search(clients: Connect) -> None:
    owner, guest = await clients(), await clients()
    await owner.join("alice")
    assert (await guest.join("alice"))["user"]["guest"] is True
    for request in (("mark-read", {"room": "general", "seq": 1}), ("search", {"query": "hi"})):
        await refused(guest, request, "forbidden", no_ack=True)
    rooms = ok(await guest.call("session"))["rooms"]
    assert [set(r) & {"unread", "mentions"} for r in rooms] == [set()]
