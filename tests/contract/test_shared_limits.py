"""Name holds and rate limits, shared by every node of one backend."""

from __future__ import annotations

import asyncio
import time

from rtchat.service import Limiters, Limits
from tests.contract.backends import Backend


async def test_a_hold_lasts_its_time_on_every_node(backend: Backend) -> None:
    one, two = backend.holds(), backend.holds()
    assert await two.remaining("u1") == 0
    await one.hold("u1", 0.4)
    assert 0.2 < await two.remaining("u1") <= 0.4
    assert await one.remaining("u2") == 0
    await asyncio.sleep(0.5)
    assert await two.remaining("u1") == 0


async def test_a_new_hold_replaces_the_old_one(backend: Backend) -> None:
    holds = backend.holds()
    await holds.hold("u1", 30)
    await holds.hold("u1", 0.2)
    assert await holds.remaining("u1") <= 0.2
    await asyncio.sleep(0.3)
    assert await holds.remaining("u1") == 0


async def test_a_bucket_allows_its_burst_then_its_rate(backend: Backend) -> None:
    limiter = backend.limiter(rate=10, burst=3)
    now = time.monotonic()
    assert [limiter.allow("u1", now) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("u2", now) is True  # another key, another bucket
    assert limiter.allow("u1", now + 0.15) is True  # 0.15 s at 10/s: a token again


async def test_a_user_on_two_nodes_is_held_to_one_limit(backend: Backend) -> None:
    one, two = backend.limiter(rate=0.5, burst=4), backend.limiter(rate=0.5, burst=4)
    now = time.monotonic()
    assert [one.allow("u1", now) for _ in range(4)] == [True] * 4
    await asyncio.sleep(0.2)  # one round trip and more: node one has settled
    two.allow("u1", time.monotonic())  # a node's first take of a key is its own guess...
    await asyncio.sleep(0.2)
    # ...then it knows the shared bucket is spent (a bucket of its own would hold 3 more).
    assert two.allow("u1", time.monotonic()) is False
    assert two.allow("u2", time.monotonic()) is True


async def test_joins_by_address_are_counted_by_every_node_apart_from_other_limits(
    backend: Backend,
) -> None:
    # What a node builds from its settings (app.py): four buckets on one backend, their
    # keys prefixed apart by the service ("join@<address>", "room@<address>", ...).
    limits = Limits(joins_per_minute=3, rooms_per_hour=2, rooms_per_hour_per_address=2)
    one, two = Limiters.build(limits, backend.limiter), Limiters.build(limits, backend.limiter)
    now = time.monotonic()
    assert [one.joins.allow("join@192.0.2.1", now) for _ in range(3)] == [True] * 3
    await asyncio.sleep(0.2)  # settled with the backend
    two.joins.allow("join@192.0.2.1", time.monotonic())
    await asyncio.sleep(0.2)
    assert two.joins.allow("join@192.0.2.1", time.monotonic()) is False
    # Another address, and the same address's room bucket, are untouched.
    assert two.joins.allow("join@192.0.2.2", time.monotonic()) is True
    assert two.rooms_by_address.allow("room@192.0.2.1", time.monotonic()) is True
    assert two.messages.allow("u1", time.monotonic()) is True
