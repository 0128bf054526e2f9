"""Presence: a user is online while any node holds one of their connections, counted once;
a node that stops refreshing takes its users offline after its TTL, reported once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from rtchat.domain.models import User
from tests.contract.backends import Backend, Presences

ALICE, BOB, CAROL = User("u-alice", "Alice"), User("u-bob", "bob"), User("u-carol", "Carol")


@contextlib.asynccontextmanager
async def started(presence: Presences) -> AsyncIterator[Presences]:
    await presence.start()
    try:
        yield presence
    finally:
        await presence.close()


async def test_several_nodes_count_a_user_once(backend: Backend) -> None:
    async with started(backend.presence("a")) as a, started(backend.presence("b")) as b:
        assert await a.arrive(ALICE) is True
        assert await b.arrive(ALICE) is False  # online already, on another node
        assert await b.online([ALICE.id, BOB.id]) == {ALICE.id}
        assert await a.depart(ALICE) is False  # still on b
        assert await a.online([ALICE.id]) == {ALICE.id}
        assert await b.depart(ALICE) is True
        assert await a.online([ALICE.id]) == set()
        assert await b.depart(ALICE) is False  # departing twice changes nothing


async def test_racing_arrivals_announce_once(backend: Backend) -> None:
    nodes = [backend.presence(f"n{i}") for i in range(4)]
    for node in nodes:
        await node.start()
    try:
        came = await asyncio.gather(*(node.arrive(BOB) for node in nodes))
        assert sorted(came) == [False, False, False, True]
        went = await asyncio.gather(*(node.depart(BOB) for node in nodes))
        assert sorted(went) == [False, False, False, True]
    finally:
        for node in nodes:
            await node.close()


async def test_list_online_is_by_casefolded_name_with_a_count(backend: Backend) -> None:
    async with started(backend.presence("a")) as a, started(backend.presence("b")) as b:
        await a.arrive(CAROL)
        await b.arrive(ALICE)
        await b.arrive(BOB)
        await a.arrive(BOB)
        users, count = await a.list_online(2)
        assert users == [ALICE, BOB]
        assert count == 3
        assert await b.list_online(10) == ([ALICE, BOB, CAROL], 3)
        assert await b.list_online(0) == ([], 3)


async def test_closing_a_node_takes_its_users_offline(backend: Backend) -> None:
    a = backend.presence("a")
    async with started(backend.presence("b")) as b:
        await a.start()
        await a.arrive(ALICE)
        await a.close()
        assert await b.online([ALICE.id]) == set()
        assert await b.expired() == []  # a clean stop is not a crash


async def test_a_node_that_stops_refreshing_loses_its_users_after_the_ttl(
    backend: Backend,
) -> None:
    ttl = 1.0
    a, b, c = (backend.presence(n, ttl) for n in ("a", "b", "c"))
    for node in (a, b, c):
        await node.start()
    try:
        await a.arrive(ALICE)
        await a.arrive(BOB)
        await b.arrive(BOB)  # bob has a tab on b too: he stays online
        await a.abandon()  # a "crashes"
        assert await b.expired() == []
        assert await b.online([ALICE.id]) == {ALICE.id}
        await asyncio.sleep(ttl + 0.3)
        await b.refresh()
        await c.refresh()
        gone = await asyncio.gather(b.expired(), c.expired())
        assert sorted(gone, key=len) == [[], [ALICE]]  # reported once, by one of them
        assert await c.online([ALICE.id, BOB.id]) == {BOB.id}
        assert await c.list_online(10) == ([BOB], 1)
    finally:
        for node in (b, c):
            await node.close()


async def test_a_live_node_is_never_swept(backend: Backend) -> None:
    ttl = 0.6
    async with started(backend.presence("a", ttl)) as a, started(backend.presence("b", ttl)) as b:
        await a.arrive(ALICE)
        for _ in range(4):  # past the TTL several times over, refreshing as it runs
            await asyncio.sleep(ttl / 2)
            await a.refresh()
            assert await b.expired() == []
        assert await b.online([ALICE.id]) == {ALICE.id}


async def test_guests_stay_guests_on_every_node_and_when_swept(backend: Backend) -> None:
    # A guest shares its name with an account: both are listed, each as what it is.
    guest = User("g-alice", "Alice", guest=True)
    ttl = 1.0
    a, b = backend.presence("a", ttl), backend.presence("b", ttl)
    for node in (a, b):
        await node.start()
    try:
        await b.arrive(ALICE)
        await a.arrive(guest)
        assert await b.list_online(10) == ([guest, ALICE], 2)  # one name: by id
        await a.abandon()  # a "crashes" with the guest on it
        await asyncio.sleep(ttl + 0.3)
        await b.refresh()
        assert await b.expired() == [guest]
    finally:
        await b.close()
