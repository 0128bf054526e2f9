"""Three `rtchat serve` processes sharing PostgreSQL and Redis behave as one chat: rooms,
DMs, history, typing, presence with tabs on two nodes, retries and sync on another node,
and edits, deletes, reactions and replies, each once and numbered with the messages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster.conftest import Connect
from tests.cluster.nodes import Cluster, running_cluster
from tests.redis_support import SHARED_URL
from tests.support import ChatClient, error_code, ok, sentinel


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    async with running_cluster(
        3, tmp_path, database_url=postgres_url, redis_url=SHARED_URL
    ) as nodes:
        yield nodes
        assert nodes.tracebacks() == []


async def joined(connect: Connect, url: str, name: str, **options: object) -> ChatClient:
    client = await connect(url, **options)
    await client.join(name)
    return client


async def test_messages_rooms_and_dms_cross_nodes(cluster: Cluster, connect: Connect) -> None:
    alice = await joined(connect, cluster[0].url, "alice")
    bob = await joined(connect, cluster[1].url, "bob")
    carol = await joined(connect, cluster[2].url, "carol")

    sent = [ok(await alice.call("send-message", f"hello {i}")) for i in range(12)]
    await sentinel(alice, bob, carol)
    for watcher in (alice, bob, carol):
        got = [m for m in watcher.events("receive-message") if m["message"].startswith("hello")]
        assert [m["seq"] for m in got] == [m["seq"] for m in sent]  # each once, in order

    # A room made on node 2, joined on node 1: only its members hear it.
    ok(await bob.call("create-room", {"name": "ops", "topic": ""}))
    ok(await alice.call("join-room", {"room": "ops"}))
    await bob.wait_for("member-joined", lambda d: d["room"] == "ops")
    posted = ok(await bob.call("send-message", {"room": "ops", "text": "deploy?"}))
    await alice.wait_for("receive-message", lambda d: d["id"] == posted["id"])
    await sentinel(bob, carol)
    assert all(m["room"] != "ops" for m in carol.events("receive-message"))

    # A DM opened on node 1 reaches its peer on node 3, and nobody else.
    dm = ok(await alice.call("open-dm", {"username": "carol"}))["room"]["name"]
    await carol.wait_for("room-added", lambda d: d["room"]["name"] == dm)
    secret = ok(await carol.call("send-message", {"room": dm, "text": "psst"}))
    await alice.wait_for("receive-message", lambda d: d["id"] == secret["id"])
    await sentinel(carol, bob)
    assert all(m["room"] != dm for m in bob.events("receive-message"))
    assert error_code(await bob.call("history", {"room": dm})) == "forbidden"

    # History written through node 1 reads the same from node 3.
    before = sent[-1]["seq"] + 1
    page = ok(await carol.call("history", {"room": "general", "before": before, "limit": 5}))
    assert [m["message"] for m in page["messages"]] == [m["message"] for m in sent[-5:]]


async def test_two_tabs_on_two_nodes_are_one_user(cluster: Cluster, connect: Connect) -> None:
    carol = await joined(connect, cluster[2].url, "carol")
    first = await connect(cluster[0].url)
    token = (await first.join("alice"))["token"]
    await carol.wait_for("user-connected", lambda d: d["username"] == "alice")
    second = await connect(cluster[1].url, auth={"token": token})
    assert ok(await second.call("session"))["user"]["username"] == "alice"

    online = ok(await carol.call("list-online", {"room": "general"}))["users"]
    assert sorted(u["username"] for u in online) == ["alice", "carol"]
    # Typing on one tab reaches carol on another node, never alice's other tab.
    ok(await first.call("typing", {"room": "general", "isTyping": True}))
    await carol.wait_for("user-typing", lambda d: d["username"] == "alice" and d["isTyping"])
    # The same clientId through the other node is the same message, delivered once.
    one = ok(await first.call("send-message", {"room": "general", "text": "x", "clientId": "c1"}))
    two = ok(await second.call("send-message", {"room": "general", "text": "x", "clientId": "c1"}))
    assert one == two
    await sentinel(carol, first, second)
    assert second.events("user-typing") == []
    assert [m["id"] for m in carol.events("receive-message")].count(one["id"]) == 1

    await first.close()
    await sentinel(carol, second)
    assert carol.events("user-disconnected") == []  # alice is still online on node 2
    await second.close()
    await carol.wait_for("user-disconnected", lambda d: d["username"] == "alice")
    assert len(carol.events("user-connected")) == 2  # carol's own, and alice's once


async def test_sync_on_another_node_brings_what_was_missed(
    cluster: Cluster, connect: Connect
) -> None:
    alice = await joined(connect, cluster[0].url, "alice")
    bob = await connect(cluster[1].url)
    view = await bob.join("bob")
    seen = ok(await bob.call("send-message", "before"))["seq"]
    await bob.close()
    missed = [ok(await alice.call("send-message", f"while away {i}")) for i in range(7)]
    back = await connect(cluster[2].url, auth={"token": view["token"]})
    answer = ok(await back.call("sync", {"rooms": {"general": seen}}))
    page = answer["rooms"]["general"]
    assert [m["id"] for m in page["messages"]] == [m["id"] for m in missed]
    assert page["hasMore"] is False


async def test_two_writers_on_two_nodes_number_one_room_without_gaps(
    tmp_path: Path, postgres_url: str, connect: Connect
) -> None:
    async with running_cluster(
        2,
        tmp_path,
        database_url=postgres_url,
        redis_url=SHARED_URL,
        settings={"RTCHAT_RATE_LIMIT": "0"},
    ) as nodes:
        writers = [await joined(connect, nodes[i].url, f"writer{i}") for i in range(2)]
        reader = await joined(connect, nodes[1].url, "reader")
        each = 1500

        async def write(client: ChatClient, who: int) -> list[int]:
            answers = await asyncio.gather(
                *(client.call("send-message", f"{who}:{n}") for n in range(each))
            )
            return [ok(answer)["seq"] for answer in answers]

        seqs = await asyncio.gather(write(writers[0], 0), write(writers[1], 1))
        assert sorted(seqs[0] + seqs[1]) == list(range(1, 2 * each + 1))
        for mine in seqs:  # each writer's messages were numbered in the order it sent them
            assert mine == sorted(mine)
        await reader.wait_for("receive-message", lambda d: d["seq"] == 2 * each, within=30)
        live = [m["seq"] for m in reader.events("receive-message")]
        assert live == list(range(1, 2 * each + 1))  # in order, once, across both nodes
        assert nodes.tracebacks() == []


LOGGED = ("receive-message", "message-edited", "message-deleted", "reaction-changed")


async def test_an_edit_on_one_node_reaches_a_member_on_another(
    cluster: Cluster, connect: Connect
) -> None:
    alice = await connect(cluster[0].url)
    await alice.join("alice")
    bob = await connect(cluster[1].url)
    bob_token = (await bob.join("bob"))["token"]
    ok(await alice.call("create-room", {"name": "ops"}))
    ok(await bob.call("join-room", {"room": "ops"}))
    await alice.wait_for("member-joined", lambda d: d["room"] == "ops")

    posted = ok(await alice.call("send-message", {"room": "ops", "text": "deploy at 5"}))
    target = {"room": "ops", "id": posted["id"]}
    ok(await alice.call("edit-message", {**target, "text": "deploy at 6"}))
    edited = await bob.wait_for("message-edited")
    assert (edited["id"], edited["message"], edited["seq"]) == (
        posted["id"],
        "deploy at 6",
        posted["seq"] + 1,
    )
    ok(await bob.call("react", {**target, "emoji": "👍"}))
    reacted = await alice.wait_for("reaction-changed")
    assert (reacted["username"], reacted["count"], reacted["seq"]) == ("bob", 1, edited["seq"] + 1)
    reply = {"room": "ops", "text": "ok", "replyTo": posted["id"]}
    answered = ok(await bob.call("send-message", reply))
    got = await alice.wait_for("receive-message", lambda d: d["id"] == answered["id"])
    assert got["replyTo"]["message"] == "deploy at 6"
    ok(await alice.call("delete-message", target))
    await bob.wait_for("message-deleted")

    await sentinel(alice, alice, bob)
    for client in (alice, bob):
        log = [d["seq"] for e, d in client.received if e in LOGGED and d["room"] == "ops"]
        assert log == list(range(posted["seq"], posted["seq"] + 5))  # each once, in order

    # From a third node, bob's token catches up from before the edit to the room as it is.
    again = await connect(cluster[2].url, auth={"token": bob_token})
    missed = ok(await again.call("sync", {"rooms": {"ops": posted["seq"]}}))["rooms"]["ops"]
    assert missed["seq"] == posted["seq"] + 4
    assert [(m["id"], m["deleted"]) for m in missed["messages"]] == [
        (posted["id"], True),
        (answered["id"], False),
    ]
