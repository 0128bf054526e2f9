"""History, pagination, sync and idempotent retries over real connections.

These tests post more than a burst, so their server runs without a rate limit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rtchat.settings import Settings
from tests.support import ChatClient, Connect, error_code, ok, sentinel


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The `server` and `clients` fixtures, with every rate limit off."""
    return Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", rate_limit=0)


async def _post(client: ChatClient, room: str, count: int, prefix: str = "") -> list[Any]:
    return [
        ok(await client.call("send-message", {"room": room, "text": f"{prefix}{room} #{i}"}))
        for i in range(1, count + 1)
    ]


@pytest.fixture
async def log_room(clients: Connect) -> tuple[ChatClient, ChatClient, list[Any]]:
    """alice posted 120 messages in `log`; bob is online but not yet a member."""
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    ok(await alice.call("create-room", {"name": "log"}))
    posted = await _post(alice, "log", 120)
    assert [m["seq"] for m in posted] == list(range(1, 121))
    return alice, bob, posted


async def test_join_then_history_pages_back_to_the_first_message(
    log_room: tuple[ChatClient, ChatClient, list[Any]],
) -> None:
    _, bob, posted = log_room
    joined = ok(await bob.call("join-room", {"room": "log"}))
    assert joined["room"]["lastSeq"] == 120
    assert joined["hasMore"] is True
    assert joined["messages"] == posted[-50:]

    pages = [joined["messages"]]
    more = joined["hasMore"]
    while more:
        answer = ok(await bob.call("history", {"room": "log", "before": pages[0][0]["seq"]}))
        pages.insert(0, answer["messages"])
        more = answer["hasMore"]
        assert len(pages) <= 4, "history does not end"
    assert [len(page) for page in pages] == [20, 50, 50]
    # Oldest first, back to seq 1, with no gap and no overlap.
    assert [m for page in pages for m in page] == posted


async def test_history_limits(log_room: tuple[ChatClient, ChatClient, list[Any]]) -> None:
    alice, _, posted = log_room

    async def page(before: int, limit: int | None = None) -> tuple[list[int], bool]:
        payload: dict[str, Any] = {"room": "log", "before": before}
        if limit is not None:
            payload["limit"] = limit
        answer = ok(await alice.call("history", payload))
        return [m["seq"] for m in answer["messages"]], answer["hasMore"]

    assert await page(121, 100) == (list(range(21, 121)), True)
    assert await page(121, 1) == ([120], True)
    assert await page(60, 10) == (list(range(50, 60)), True)
    assert await page(11, 10) == (list(range(1, 11)), False)
    assert await page(2, 1) == ([1], False)
    assert await page(1) == ([], False)
    assert await page(0) == ([], False)
    assert await page(10**9) == (list(range(71, 121)), True)  # past the end: the newest

    for limit in (0, 101, -1, "10", 2.5, True, [10]):
        answer = await alice.call("history", {"room": "log", "before": 50, "limit": limit})
        assert error_code(answer) == "invalid_payload", limit
    for before in (-1, "50", 1.5, True, None, [50]):
        answer = await alice.call("history", {"room": "log", "before": before})
        assert error_code(answer) == "invalid_payload", before
    assert error_code(await alice.call("history", {"room": "log"})) == "invalid_payload"
    assert [m["seq"] for m in posted[:3]] == [1, 2, 3]


async def test_sync_returns_exactly_what_came_after(
    log_room: tuple[ChatClient, ChatClient, list[Any]],
) -> None:
    alice, _, posted = log_room
    general = ok(await alice.call("send-message", "in general"))

    missed = ok(await alice.call("sync", {"rooms": {"log": 100, "general": general["seq"] - 1}}))
    assert missed == {
        "rooms": {
            "log": {"messages": posted[100:], "hasMore": False, "seq": 120},
            "general": {"messages": [general], "hasMore": False, "seq": general["seq"]},
        }
    }
    everything = ok(await alice.call("sync", {"rooms": {"LOG": 0}}))["rooms"]
    assert everything == {"log": {"messages": posted, "hasMore": False, "seq": 120}}
    up_to_date = ok(await alice.call("sync", {"rooms": {"log": 120}}))["rooms"]
    assert up_to_date == {"log": {"messages": [], "hasMore": False, "seq": 120}}
    ahead = ok(await alice.call("sync", {"rooms": {"log": 500}}))["rooms"]
    # A position past the room's end is where the client stays: nothing came after it.
    assert ahead == {"log": {"messages": [], "hasMore": False, "seq": 500}}
    assert ok(await alice.call("sync", {"rooms": {}})) == {"rooms": {}}


async def test_sync_pages_of_500(clients: Connect) -> None:
    alice = await clients()
    await alice.join("alice")
    ok(await alice.call("create-room", {"name": "busy"}))
    texts = [f"busy {i}" for i in range(1, 503)]
    for text in texts:  # pipelined: one connection's events are handled in order
        await alice.sio.emit("send-message", {"room": "busy", "text": text})
    await alice.wait_for("receive-message", lambda d: d["message"] == texts[-1], within=20)

    first = ok(await alice.call("sync", {"rooms": {"busy": 0}}))["rooms"]["busy"]
    assert first["hasMore"] is True
    assert [m["seq"] for m in first["messages"]] == list(range(1, 501))
    last_seen = first["messages"][-1]["seq"]
    assert first["seq"] == last_seen
    rest = ok(await alice.call("sync", {"rooms": {"busy": last_seen}}))["rooms"]["busy"]
    assert rest["hasMore"] is False
    assert [m["message"] for m in first["messages"] + rest["messages"]] == texts


async def test_sequence_numbers_grow_per_room(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    ok(await alice.call("create-room", {"name": "a"}))
    ok(await bob.call("create-room", {"name": "b"}))
    ok(await bob.call("join-room", {"room": "a"}))
    start = ok(await alice.call("send-message", "general first"))["seq"]

    order = [(alice, "a"), (bob, "b"), (bob, "a"), (alice, "general"), (alice, "a"), (bob, "b")]
    seqs = [
        (room, ok(await c.call("send-message", {"room": room, "text": "x"}))["seq"])
        for c, room in order
    ]
    assert seqs == [("a", 1), ("b", 1), ("a", 2), ("general", start + 1), ("a", 3), ("b", 2)]
    rooms = {r["name"]: r["lastSeq"] for r in ok(await alice.call("list-rooms"))["rooms"]}
    assert rooms == {"a": 3, "b": 2, "general": start + 1}


async def test_a_retry_with_the_same_client_id_is_stored_and_delivered_once(
    clients: Connect,
) -> None:
    alice, bob = await clients(), await clients()
    await alice.join("alice")
    await bob.join("bob")
    payload = {"room": "general", "text": "only once", "clientId": "c-1"}

    first = ok(await alice.call("send-message", payload))
    assert first["clientId"] == "c-1"
    again = ok(await alice.call("send-message", payload))
    assert again == first  # same id, seq and timestamp
    # A retry is keyed on the client id alone: a changed text still answers the stored one.
    assert ok(await alice.call("send-message", {**payload, "text": "edited"})) == first
    other = ok(await alice.call("send-message", {**payload, "clientId": "c-2"}))
    assert other["id"] != first["id"]
    assert other["seq"] == first["seq"] + 1
    # Client ids belong to their author: bob's "c-1" is a message of his own.
    bobs = ok(await bob.call("send-message", {**payload, "text": "bob's"}))
    assert (bobs["seq"], bobs["username"]) == (first["seq"] + 2, "bob")

    await sentinel(alice, bob)
    received = [m["id"] for m in bob.events("receive-message") if m["clientId"] in ("c-1", "c-2")]
    assert received == [first["id"], other["id"], bobs["id"]]
    history = ok(await bob.call("history", {"room": "general", "before": 10**9}))["messages"]
    assert [m["id"] for m in history if m["clientId"]] == received


async def test_a_retry_from_a_new_connection_after_reconnect(clients: Connect) -> None:
    # The case retries exist for: the ack was lost with the connection, so the client
    # sends again, with the same client id, once it is back.
    alice, bob = await clients(), await clients()
    token = (await alice.join("alice"))["token"]
    await bob.join("bob")
    payload = {"room": "general", "text": "did this arrive?", "clientId": "retry-1"}
    first = ok(await alice.call("send-message", payload))
    await alice.close()

    back = await clients(auth={"token": token})
    assert ok(await back.call("send-message", payload)) == first
    await sentinel(back, bob)
    assert [m["id"] for m in bob.events("receive-message") if m["clientId"]] == [first["id"]]
