"""Fanout: what one node publishes reaches the nodes subscribed to the channel, in order,
once, and never the publisher; Redis's links heal by themselves and say so."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from rtchat.fanout import envelope
from rtchat.fanout.redis import MAX_UNSENT, RedisFanout
from rtchat.fanout.resp import command
from rtchat.redislink import RedisAddress
from tests.contract.backends import Backend, Fanouts
from tests.proxy import CuttableProxy
from tests.redis_support import eventually, new_prefix, private_redis


@dataclass
class Inbox:
    got: list[tuple[str, bytes]] = field(default_factory=list)
    resumes: int = 0

    def received(self, channel: str, data: bytes) -> None:
        self.got.append((channel, data))

    def resumed(self) -> None:
        self.resumes += 1

    def texts(self, channel: str) -> list[bytes]:
        return [envelope.parse(d).event for c, d in self.got if c == channel]  # type: ignore[union-attr]


@contextlib.asynccontextmanager
async def node(backend: Backend, name: str) -> AsyncIterator[tuple[Fanouts, Inbox]]:
    fanout, inbox = backend.fanout(name), Inbox()
    await fanout.start(inbox)
    try:
        yield fanout, inbox
    finally:
        await fanout.close()


def frame(origin: str, text: str, seq: int = 0) -> bytes:
    return envelope.room_frame(origin, seq, "", text.encode())


async def test_subscribers_get_it_in_order_once_and_the_publisher_never(backend: Backend) -> None:
    async with node(backend, "a") as (a, a_in), node(backend, "b") as (b, b_in):
        await a.subscribe("r:general")
        await b.subscribe("r:general")
        for i in range(500):
            a.publish("r:general", frame("a", f"m{i}", i + 1))
        await eventually(lambda: len(b_in.got) == 500)
        assert b_in.texts("r:general") == [f"m{i}".encode() for i in range(500)]
        b.publish("r:general", frame("b", "last"))
        await eventually(lambda: len(a_in.got) == 1)
        assert a_in.texts("r:general") == [b"last"]
        assert b_in.texts("r:general")[-1] == b"m499"  # b never got its own "last"


async def test_only_subscribed_nodes_receive_and_unsubscribe_stops_it(backend: Backend) -> None:
    async with (
        node(backend, "a") as (a, _),
        node(backend, "b") as (b, b_in),
        node(backend, "c") as (c, c_in),
    ):
        await b.subscribe("r:ops")
        await c.subscribe("r:other")
        a.publish("r:ops", frame("a", "for b"))
        a.publish("r:other", frame("a", "for c"))  # a sentinel: c has it, so "for b" is past
        await eventually(lambda: c_in.got and b_in.got)
        assert b_in.texts("r:ops") == [b"for b"]
        assert c_in.texts("r:ops") == []
        b.unsubscribe("r:ops")
        await b.subscribe("r:sentinel")
        a.publish("r:ops", frame("a", "after"))
        a.publish("r:sentinel", frame("a", "s"))
        await eventually(lambda: b_in.texts("r:sentinel") == [b"s"])
        assert b_in.texts("r:ops") == [b"for b"]


async def test_publishing_with_nobody_subscribed_is_harmless(backend: Backend) -> None:
    async with node(backend, "a") as (a, _):
        for _ in range(10):
            a.publish("r:nobody", frame("a", "x"))
        assert a.healthy()


@pytest.fixture
async def cut_redis() -> AsyncIterator[tuple[CuttableProxy, RedisAddress, RedisAddress, str]]:
    """A private Redis, straight and behind a proxy the test can cut."""
    with private_redis() as server:
        proxy = CuttableProxy(server.port)
        await proxy.start()
        try:
            cut = RedisAddress.parse(f"redis://127.0.0.1:{proxy.port}/0")
            yield proxy, cut, RedisAddress.parse(server.url), new_prefix()
        finally:
            await proxy.close()


async def test_redis_links_heal_by_themselves_and_say_so(
    cut_redis: tuple[CuttableProxy, RedisAddress, RedisAddress, str],
) -> None:
    proxy, cut, _, prefix = cut_redis
    a, b = RedisFanout(cut, prefix, "a"), RedisFanout(cut, prefix, "b")
    a_in, b_in = Inbox(), Inbox()
    await a.start(a_in)
    await b.start(b_in)
    try:
        await b.subscribe("r:general")
        a.publish("r:general", frame("a", "before"))
        await eventually(lambda: b_in.texts("r:general") == [b"before"])
        proxy.down = True
        proxy.cut()
        await eventually(lambda: not a.healthy() and not b.healthy())
        await b.subscribe("r:later")  # while down: subscribed on the way back
        await asyncio.sleep(0.3)
        proxy.down = False
        # b says it is back once its channels are subscribed: what it missed meanwhile is
        # for its relay to read from the store.
        await eventually(lambda: a.healthy() and b.healthy() and b_in.resumes == 1, within=10)
        a.publish("r:general", frame("a", "after"))
        a.publish("r:later", frame("a", "later"))
        await eventually(lambda: b_in.texts("r:later") == [b"later"])
        assert b_in.texts("r:general") == [b"before", b"after"]
    finally:
        await a.close()
        await b.close()


async def test_what_is_published_while_the_publisher_is_cut_leaves_when_it_is_back(
    cut_redis: tuple[CuttableProxy, RedisAddress, RedisAddress, str],
) -> None:
    proxy, cut, straight, prefix = cut_redis
    a, b = RedisFanout(cut, prefix, "a"), RedisFanout(straight, prefix, "b")
    b_in = Inbox()
    await a.start(Inbox())
    await b.start(b_in)
    try:
        await b.subscribe("r:general")
        proxy.down = True
        proxy.cut()
        await eventually(lambda: not a.healthy())
        for i in range(100):
            a.publish("r:general", frame("a", f"m{i}"))
        proxy.down = False
        await eventually(lambda: len(b_in.got) == 100, within=10)
        assert b_in.texts("r:general") == [f"m{i}".encode() for i in range(100)]
        assert b_in.resumes == 0  # b's own link never went
    finally:
        await a.close()
        await b.close()


async def test_redis_that_is_not_there_at_start_is_a_one_line_error() -> None:
    with private_redis() as server:
        port = server.port
    fanout = RedisFanout(RedisAddress.parse(f"redis://127.0.0.1:{port}/0"), "x", "a")
    with pytest.raises(ValueError, match=rf"Cannot reach Redis at 127\.0\.0\.1:{port}"):
        await fanout.start(Inbox())


async def test_what_waits_for_a_cut_publisher_is_bounded_keeping_the_newest(
    cut_redis: tuple[CuttableProxy, RedisAddress, RedisAddress, str],
) -> None:
    proxy, cut, straight, prefix = cut_redis
    a, b = RedisFanout(cut, prefix, "a"), RedisFanout(straight, prefix, "b")
    b_in = Inbox()
    await a.start(Inbox())
    await b.start(b_in)
    try:
        await b.subscribe("r:general")
        proxy.down = True
        proxy.cut()
        await eventually(lambda: not a.healthy())
        pad = "x" * 8000
        total = 2000  # 16 MB: twice what a publisher keeps for a link that is down
        for i in range(total):
            a.publish("r:general", frame("a", f"{i}:{pad}"))
        proxy.down = False
        await eventually(lambda: a.healthy(), within=10)
        await eventually(
            lambda: (
                bool(b_in.got) and b_in.texts("r:general")[-1].startswith(f"{total - 1}:".encode())
            ),
            within=10,
        )
        got = [int(t.split(b":", 1)[0]) for t in b_in.texts("r:general")]
        assert got == list(range(got[0], total))  # the newest, in order, none twice
        size = len(command(b"PUBLISH", f"{prefix}:r:general".encode(), frame("a", f"0:{pad}")))
        kept = total - got[0]
        assert MAX_UNSENT // 2 // size <= kept <= MAX_UNSENT // size  # the oldest went
    finally:
        await a.close()
        await b.close()
