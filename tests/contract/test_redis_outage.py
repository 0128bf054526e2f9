"""What the Redis parts do while Redis is away and when it comes back empty: presence
answers from the node and writes its entries again; name holds refuse to guess."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import User
from rtchat.names.redis import RedisNameHolds
from rtchat.presence.redis import RedisPresence
from rtchat.redislink import RedisAddress, RedisClient, open_client
from tests.redis_support import PrivateRedis, new_prefix

ALICE, BOB = User("u-alice", "alice"), User("u-bob", "bob")


@pytest.fixture
async def redis_server() -> AsyncIterator[tuple[PrivateRedis, RedisClient]]:
    server = PrivateRedis()
    try:
        server.start()
        client = open_client(RedisAddress.parse(server.url))
        try:
            yield server, client
        finally:
            await client.aclose()
    finally:
        server.close()


async def test_presence_answers_from_the_node_then_writes_itself_again(
    redis_server: tuple[PrivateRedis, RedisClient],
) -> None:
    server, client = redis_server
    prefix = new_prefix()
    a = RedisPresence(client, prefix, "a", ttl=30)
    await a.start()
    try:
        assert await a.arrive(ALICE) is True
        server.stop()  # Redis goes away, with everything it held
        assert await a.arrive(BOB) is True  # as far as the node can tell
        assert a.healthy() is False
        assert await a.online([ALICE.id, BOB.id, "u-nobody"]) == {ALICE.id, BOB.id}
        assert await a.list_online(10) == ([ALICE, BOB], 2)
        assert await a.expired() == []
        server.start()  # back, and empty
        await a.refresh()
        assert a.healthy() is True
        other = RedisPresence(client, prefix, "b", ttl=30)
        assert await other.online([ALICE.id, BOB.id]) == {ALICE.id, BOB.id}
        assert await other.list_online(10) == ([ALICE, BOB], 2)
    finally:
        await a.close()


async def test_a_departure_redis_missed_is_written_on_the_way_back(
    redis_server: tuple[PrivateRedis, RedisClient],
) -> None:
    server, client = redis_server
    prefix = new_prefix()
    a = RedisPresence(client, prefix, "a", ttl=30)
    await a.start()
    try:
        await a.arrive(ALICE)
        await a.arrive(BOB)
        server.stop()
        await a.depart(BOB)
        server.start()
        await a.arrive(ALICE)  # a change that reaches Redis: it knows nothing of bob's going
        await a.refresh()
        other = RedisPresence(client, prefix, "b", ttl=30)
        assert await other.online([ALICE.id, BOB.id]) == {ALICE.id}
    finally:
        await a.close()


async def test_a_name_hold_cannot_be_checked_without_redis(
    redis_server: tuple[PrivateRedis, RedisClient],
) -> None:
    server, client = redis_server
    holds = RedisNameHolds(client, new_prefix())
    await holds.hold("u1", 30)
    server.stop()
    await holds.hold("u2", 30)  # lost, and said so in the log; nothing fails
    with pytest.raises(ChatError) as caught:
        await holds.remaining("u1")
    assert caught.value.code is ErrorCode.UNAVAILABLE


async def test_a_join_storm_waits_for_connections_rather_than_failing(
    redis_server: tuple[PrivateRedis, RedisClient],
) -> None:
    _, client = redis_server
    presence = RedisPresence(client, new_prefix(), "a", ttl=30)
    await presence.start()
    try:
        users = [User(f"u{i}", f"user{i}") for i in range(1000)]
        came = await asyncio.gather(*(presence.arrive(user) for user in users))
        assert all(came)
        assert presence.healthy()  # none fell back to "answering from this node"
        assert (await presence.list_online(0))[1] == 1000
    finally:
        await presence.close()
