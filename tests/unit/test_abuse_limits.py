"""Limits on what one client or one address may take, with memory ports and a manual
clock: joins and room creations by address, room creations by account, paged room lists,
`sync` reading each room once, and the clean-up of accounts that never return."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import ConnectionId, MessageDraft, Room, User
from rtchat.service import MAX_ROOMS_PAGE, ROOMS_PAGE, SYNC_BUDGET, SYNC_PAGE, Limits
from rtchat.service.limits import CLEANUP_BATCH, CLEANUP_EVERY
from rtchat.service.views import SyncPage
from tests.unit.conftest import Parts, chat_with

HOME, AWAY = "192.0.2.1", "198.51.100.7"


def conn(i: int | str) -> ConnectionId:
    return ConnectionId(f"c{i}")


async def refused(call: object) -> ChatError:
    with pytest.raises(ChatError) as caught:
        await call  # type: ignore[misc]
    return caught.value


async def test_joins_are_limited_per_address() -> None:
    async with chat_with(Limits(joins_per_minute=3)) as parts:
        identity = parts.chat.identity
        for i in range(4):
            await identity.connect(conn(i), address=HOME)
        for i in range(3):
            await identity.join(conn(i), f"user{i}")
        # Joining again under one's own name changes nothing and costs nothing.
        await identity.join(conn(0), "USER0")
        error = await refused(identity.join(conn(3), "user3"))
        assert error.code is ErrorCode.RATE_LIMITED
        assert "address" in error.message
        assert (await identity.session(conn(3))).user is None
        # Another address has its own allowance; no address (not over IP) is not counted.
        await identity.connect(conn("away"), address=AWAY)
        await identity.join(conn("away"), "far")
        await identity.connect(conn("unix"))
        await identity.join(conn("unix"), "local")
        # Three a minute: one more after twenty seconds.
        parts.clock.advance(20)
        await identity.join(conn(3), "user3")


async def test_renames_count_as_joins() -> None:
    async with chat_with(Limits(joins_per_minute=2)) as parts:
        identity = parts.chat.identity
        await identity.connect(conn(0), address=HOME)
        await identity.join(conn(0), "a")
        await identity.join(conn(0), "b")
        assert (await refused(identity.join(conn(0), "c"))).code is ErrorCode.RATE_LIMITED
        assert (await identity.session(conn(0))).user.username == "b"  # type: ignore[union-attr]


async def test_room_creation_is_limited_per_account_and_per_address() -> None:
    limits = Limits(rooms_per_hour=2, rooms_per_hour_per_address=3)
    async with chat_with(limits) as parts:
        chat = parts.chat
        for i in range(3):
            await chat.identity.connect(conn(i), address=HOME)
            await chat.identity.join(conn(i), f"maker{i}")
        await chat.rooms.create_room(conn(0), "one", None)
        await chat.rooms.create_room(conn(0), "two", None)
        error = await refused(chat.rooms.create_room(conn(0), "three", None))
        assert (error.code, "too fast" in error.message) == (ErrorCode.RATE_LIMITED, True)
        await chat.rooms.create_room(conn(1), "four", None)  # the address's third
        error = await refused(chat.rooms.create_room(conn(2), "five", None))
        assert (error.code, "address" in error.message) == (ErrorCode.RATE_LIMITED, True)
        assert await parts.storage.rooms.get("five") is None
        parts.clock.advance(3600 / 2)  # half an hour: one more for the account and address
        await chat.rooms.create_room(conn(2), "five", None)


async def test_zero_turns_the_limits_off() -> None:
    limits = Limits(joins_per_minute=0, rooms_per_hour=0, rooms_per_hour_per_address=0)
    async with chat_with(limits) as parts:
        chat = parts.chat
        await chat.identity.connect(conn(0), address=HOME)
        for i in range(50):
            await chat.identity.join(conn(0), f"name{i}")
            await chat.rooms.create_room(conn(0), f"room{i}", None)


async def test_list_rooms_answers_pages_by_name(parts: Parts) -> None:
    names = [f"r{i:03d}" for i in range(250)]
    for name in names:
        await parts.storage.rooms.create(Room(name))
    rooms = parts.chat.rooms
    await parts.chat.identity.connect(conn(0))
    first = await rooms.list_rooms(conn(0))
    assert [s.room.name for s in first.rooms] == (["general", *names])[:ROOMS_PAGE]
    seen = [s.room.name for s in first.rooms]
    page = first
    while page.next is not None:
        page = await rooms.list_rooms(conn(0), page.next, MAX_ROOMS_PAGE)
        seen += [s.room.name for s in page.rooms]
    assert seen == ["general", *names]
    assert [s.room.name for s in (await rooms.list_rooms(conn(0), "r100", 2)).rooms] == [
        "r101",
        "r102",
    ]
    last = await rooms.list_rooms(conn(0), "r248", 5)
    assert ([s.room.name for s in last.rooms], last.next) == (["r249"], None)
    for after, limit in (("Not A Room!", None), (5, None), (None, 0), (None, MAX_ROOMS_PAGE + 1)):
        error = await refused(rooms.list_rooms(conn(0), after, limit))
        assert error.code in (ErrorCode.INVALID_ROOM_NAME, ErrorCode.INVALID_PAYLOAD)


async def test_sync_reads_each_room_once_from_its_earliest_position() -> None:
    async with chat_with(Limits(send_rate=0)) as parts:
        chat = parts.chat
        await chat.identity.connect(conn(0))
        await chat.identity.join(conn(0), "alice")
        await chat.rooms.create_room(conn(0), "dev", None)
        sent = [await chat.messages.post(conn(0), "dev", f"m{i}") for i in range(3)]
        spellings = {"dev": 2, "DEV": 0, " dev ": 1, "Dev": 3}
        missed = await chat.messages.sync(conn(0), spellings)
        assert list(missed) == ["dev"]
        assert missed["dev"] == SyncPage(sent, False, 3)


async def test_accounts_unseen_for_the_retention_are_removed() -> None:
    async with chat_with(Limits(account_retention_days=30, send_rate=0)) as parts:
        chat, clock, users = parts.chat, parts.clock, parts.storage.users
        for i in range(4):
            await chat.identity.connect(conn(i))
        gone = await chat.identity.join(conn(0), "gone")
        await chat.identity.join(conn(1), "stays")  # online for the whole month
        await chat.messages.post(conn(0), None, "still here after they went")
        await chat.identity.disconnect(conn(0))
        clock.advance(timedelta(days=20).total_seconds())
        recent = await chat.identity.join(conn(2), "recent")
        await chat.identity.disconnect(conn(2))
        old = User("u-old", "old")
        await users.create(old, "h-old", seen=clock.now() - timedelta(days=90))
        assert await chat.cleanup.run() == 1  # only the one from 90 days ago
        clock.advance(timedelta(days=11).total_seconds())

        assert await chat.cleanup.run() == 1
        assert await users.by_name("gone") is None
        assert await chat.identity.connect(conn("back"), gone.token) is None
        assert await users.by_name("stays") is not None  # online: never removed
        assert await users.by_name("recent") == recent.user  # 11 days
        history, _ = await chat.messages.history(conn(1), None, 100)
        assert [m.author.username for m in history] == ["gone"]
        assert (await chat.identity.join(conn(3), "gone")).user.guest is False  # type: ignore[union-attr]


async def test_a_backlog_is_removed_in_batches_and_zero_keeps_every_account() -> None:
    async with chat_with(Limits(account_retention_days=0)) as parts:
        for i in range(CLEANUP_BATCH + 5):
            await parts.storage.users.create(User(f"u{i}", f"n{i}"), f"h{i}", seen=None)
        parts.clock.advance(timedelta(days=400).total_seconds())
        assert await parts.chat.cleanup.run() == 0
    async with chat_with(Limits(account_retention_days=1)) as parts:
        long_ago = parts.clock.now() - timedelta(days=2)
        for i in range(CLEANUP_BATCH + 5):
            await parts.storage.users.create(User(f"u{i}", f"n{i}"), f"h{i}", seen=long_ago)
        assert await parts.chat.cleanup.run() == CLEANUP_BATCH + 5


async def test_the_sweep_starts_a_clean_up_at_start_then_every_so_often() -> None:
    async with chat_with(Limits(account_retention_days=1)) as parts:
        users, clock = parts.storage.users, parts.clock

        async def swept_away(name: str) -> bool:
            await parts.chat.sweep()
            for _ in range(100):  # the run is a task of its own: let it go
                if await users.by_name(name) is None:
                    return True
                await asyncio.sleep(0)
            return False

        await users.create(User("u1", "first"), "h1", seen=clock.now() - timedelta(days=2))
        assert await swept_away("first")  # the first sweep after the start
        await users.create(User("u2", "later"), "h2", seen=clock.now() - timedelta(days=2))
        clock.advance(CLEANUP_EVERY - 1)
        assert not await swept_away("later")  # not due again yet
        clock.advance(1)
        assert await swept_away("later")


async def test_one_sync_answers_a_bounded_number_of_messages(parts: Parts) -> None:
    chat, storage = parts.chat, parts.storage
    await chat.identity.connect(conn(0))
    alice = (await chat.identity.join(conn(0), "alice")).user
    assert alice is not None
    rooms = [f"r{i}" for i in range(5)]
    for room in rooms:
        await chat.rooms.create_room(conn(0), room, None)
        parts.clock.advance(3600)  # the account's room limit refills
        for n in range(SYNC_PAGE):
            draft = MessageDraft(f"{room}-{n}", room, alice, "x", parts.clock.now())
            await storage.messages.append(draft)
    await chat.rooms.create_room(conn(0), "quiet", None)
    missed = await chat.messages.sync(conn(0), dict.fromkeys([*rooms, "quiet"], 0))
    assert sum(len(page.messages) for page in missed.values()) == SYNC_BUDGET
    assert [(len(page.messages), page.has_more) for page in missed.values()] == [
        (500, False),
        (500, False),
        (500, False),
        (500, False),
        (0, True),  # past the budget: nothing now, ask again
        (0, False),  # past the budget, and nothing to ask for
    ]
    rest = await chat.messages.sync(conn(0), {"r4": 0})
    assert [m.seq for m in rest["r4"].messages] == list(range(1, SYNC_PAGE + 1))
