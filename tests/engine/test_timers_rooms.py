"""One timer for many deadlines, and rooms, with no sockets."""

from __future__ import annotations

import asyncio

import pytest

from rtchat.engine.rooms import Rooms
from rtchat.engine.timers import Batch, DeadlineQueue


@pytest.mark.serial
async def test_deadlines_fire_in_order_at_their_own_time() -> None:
    loop = asyncio.get_running_loop()
    fired: list[tuple[str, float]] = []
    queue = DeadlineQueue[str](0.1, lambda key: fired.append((key, loop.time())))
    start = loop.time()
    queue.add("a")
    await asyncio.sleep(0.03)
    queue.add("b")
    queue.add("c")
    queue.remove("c")
    queue.add("a")  # restarted: now after b
    await asyncio.sleep(0.3)
    assert [key for key, _ in fired] == ["b", "a"]
    b_at, a_at = fired[0][1] - start, fired[1][1] - start
    assert 0.125 <= b_at < 0.25
    assert 0.125 <= a_at < 0.25
    assert len(queue) == 0
    queue.close()


def test_rooms_keep_join_order_and_forget_empty_rooms() -> None:
    rooms = Rooms[str]()
    rooms.add("/", "lobby", "x")
    rooms.add("/", "lobby", "y")
    rooms.add("/admin", "lobby", "z")
    assert list(rooms.members("/", "lobby") or ()) == ["x", "y"]
    rooms.discard("/", "lobby", "x")
    rooms.discard("/", "lobby", "y")
    assert rooms.members("/", "lobby") is None
    assert len(rooms) == 1


async def test_a_batch_hands_over_everything_added_once_after_the_first() -> None:
    fired: list[list[str]] = []
    batch = Batch[str](0.02, fired.append)
    for key in ("a", "b", "c"):
        batch.add(key)
        await asyncio.sleep(0)
    assert fired == []
    for _ in range(50):  # bounded
        if fired:
            break
        await asyncio.sleep(0.01)
    assert fired == [["a", "b", "c"]]
    batch.add("d")
    batch.close()
    await asyncio.sleep(0.05)
    assert fired == [["a", "b", "c"]]  # closed: "d" is forgotten
