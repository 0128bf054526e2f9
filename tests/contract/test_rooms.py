"""RoomStore: rooms, direct messages, membership and summaries."""

from __future__ import annotations

import asyncio

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Room, RoomKind, RoomSummary, User, dm_room_name
from rtchat.ports import Storage
from tests.contract.support import add_room, add_user, draft


async def test_a_created_room_can_be_got(storage: Storage) -> None:
    room = Room(name="general", topic="Anything goes")
    await storage.rooms.create(room)
    assert await storage.rooms.get("general") == room
    assert await storage.rooms.get("nowhere") is None
    assert await storage.rooms.summary("general") == RoomSummary(room, 0, 0)
    assert await storage.rooms.summary("nowhere") is None


async def test_creating_a_room_twice_is_room_exists(storage: Storage) -> None:
    await storage.rooms.create(Room(name="general", topic="first"))
    with pytest.raises(ChatError) as caught:
        await storage.rooms.create(Room(name="general", topic="second"))
    assert caught.value.code is ErrorCode.ROOM_EXISTS
    assert await storage.rooms.get("general") == Room(name="general", topic="first")


async def test_the_service_can_ensure_the_default_room(storage: Storage) -> None:
    # What the service does at start-up, every start-up: create `general` unless present.
    for _ in range(2):
        if await storage.rooms.get("general") is None:
            await storage.rooms.create(Room(name="general"))
    assert [s.room.name for s in await storage.rooms.list_rooms("", 100)] == ["general"]


async def test_list_rooms_is_by_name_without_direct_messages(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "Bob")
    await add_room(storage, "random")
    await add_room(storage, "general", alice)
    await add_room(storage, dm_room_name(alice.id, bob.id), alice, bob, kind=RoomKind.DM)
    listed = await storage.rooms.list_rooms("", 100)
    assert [s.room.name for s in listed] == ["general", "random"]
    assert all(s.room.kind is RoomKind.ROOM for s in listed)


async def test_list_rooms_pages_by_name(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "Bob")
    names = [f"room-{i:02d}" for i in range(7)]
    for name in reversed(names):
        await add_room(storage, name)
    await add_room(storage, dm_room_name(alice.id, bob.id), alice, bob, kind=RoomKind.DM)
    pages: list[list[str]] = []
    after = ""
    while page := await storage.rooms.list_rooms(after, 3):
        pages.append([s.room.name for s in page])
        after = page[-1].room.name
    assert pages == [names[0:3], names[3:6], names[6:]]
    assert await storage.rooms.list_rooms("room-03", 2) == [
        RoomSummary(Room("room-04"), 0, 0),
        RoomSummary(Room("room-05"), 0, 0),
    ]
    assert await storage.rooms.list_rooms("", 0) == []
    # By code point, as every backend orders text keys: "_" (0x5f) sorts after "Z" and "-".
    await add_room(storage, "room_x")
    assert [s.room.name for s in await storage.rooms.list_rooms("room-06", 5)] == ["room_x"]


async def test_creating_a_room_with_members(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "Bob")
    name = dm_room_name(alice.id, bob.id)
    await add_room(storage, name, alice, bob, kind=RoomKind.DM)
    assert await storage.rooms.members(name, 100) == [alice, bob]
    assert await storage.rooms.get(name) == Room(name=name, kind=RoomKind.DM)


async def test_creating_a_room_with_an_unknown_member_stores_nothing(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    with pytest.raises(ChatError) as caught:
        await storage.rooms.create(Room(name="team"), (alice.id, "nobody"))
    assert caught.value.code is ErrorCode.USER_NOT_FOUND
    assert await storage.rooms.get("team") is None
    assert await storage.rooms.rooms_of(alice.id) == []


async def test_add_and_remove_say_whether_anything_changed(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    await add_room(storage, "general")
    assert not await storage.rooms.is_member("general", alice.id)
    assert await storage.rooms.add_member("general", alice.id) is True
    assert await storage.rooms.add_member("general", alice.id) is False
    assert await storage.rooms.is_member("general", alice.id)
    assert await storage.rooms.remove_member("general", alice.id) is True
    assert await storage.rooms.remove_member("general", alice.id) is False
    assert not await storage.rooms.is_member("general", alice.id)
    assert await storage.rooms.remove_member("nowhere", alice.id) is False
    assert not await storage.rooms.is_member("nowhere", alice.id)


async def test_adding_to_an_unknown_room_or_an_unknown_user(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    await add_room(storage, "general")
    with pytest.raises(ChatError) as caught:
        await storage.rooms.add_member("nowhere", alice.id)
    assert caught.value.code is ErrorCode.ROOM_NOT_FOUND
    with pytest.raises(ChatError) as caught:
        await storage.rooms.add_member("general", "nobody")
    assert caught.value.code is ErrorCode.USER_NOT_FOUND
    assert await storage.rooms.members("general", 100) == []


async def test_members_are_by_username_and_released_users_are_gone(storage: Storage) -> None:
    carol = await add_user(storage, "carol")
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "bob")
    dave = await add_user(storage, "Dave")
    await add_room(storage, "general", carol, dave, alice, bob)
    assert await storage.rooms.members("general", 100) == [alice, bob, carol, dave]
    await storage.users.release(bob.id)
    assert await storage.rooms.members("general", 100) == [alice, carol, dave]
    assert await storage.rooms.members("nowhere", 100) == []


async def test_members_come_by_name_key_up_to_a_limit(storage: Storage) -> None:
    names = ["dave", "Carol", "bob", "Alice", "ÉMILE", "ａｄａ"]  # noqa: RUF001 (fullwidth ada)
    users = [await add_user(storage, name) for name in names]
    await add_room(storage, "general", *users)
    first = await storage.rooms.members("general", 3)
    assert [u.username for u in first] == ["ａｄａ", "Alice", "bob"]  # noqa: RUF001
    assert await storage.rooms.members("general", 0) == []
    assert len(await storage.rooms.members("general", 100)) == 6


async def test_summaries_count_members_and_the_last_seq(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "Bob")
    carol = await add_user(storage, "Carol")
    general = await add_room(storage, "general", alice, bob, carol)
    quiet = await add_room(storage, "quiet", alice)
    dm = await add_room(storage, dm_room_name(alice.id, bob.id), alice, bob, kind=RoomKind.DM)
    for _ in range(3):
        await storage.messages.append(draft("general", alice))
    await storage.messages.append(draft(dm.name, bob))
    await storage.users.release(carol.id)

    assert await storage.rooms.rooms_of(alice.id) == [
        RoomSummary(dm, member_count=2, last_seq=1),
        RoomSummary(general, member_count=2, last_seq=3),
        RoomSummary(quiet, member_count=1, last_seq=0),
    ]
    assert await storage.rooms.rooms_of(bob.id) == [
        RoomSummary(dm, member_count=2, last_seq=1),
        RoomSummary(general, member_count=2, last_seq=3),
    ]
    assert await storage.rooms.list_rooms("", 100) == [
        RoomSummary(general, member_count=2, last_seq=3),
        RoomSummary(quiet, member_count=1, last_seq=0),
    ]
    assert await storage.rooms.summary("general") == RoomSummary(general, 2, 3)
    assert await storage.rooms.rooms_of("nobody") == []


async def test_rooms_of_follows_membership(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    await add_room(storage, "b-room")
    await add_room(storage, "a-room")
    await storage.rooms.add_member("b-room", alice.id)
    await storage.rooms.add_member("a-room", alice.id)
    assert [s.room.name for s in await storage.rooms.rooms_of(alice.id)] == ["a-room", "b-room"]
    await storage.rooms.remove_member("a-room", alice.id)
    assert [s.room.name for s in await storage.rooms.rooms_of(alice.id)] == ["b-room"]


async def test_concurrent_calls_take_effect_in_the_order_they_were_made(
    storage: Storage,
) -> None:
    alice = User(id="u1", username="Alice")
    # Nothing is awaited in between: each call must still see the ones made before it.
    _, _, (message, created), added = await asyncio.gather(
        storage.users.create(alice, token_hash="h1"),
        storage.rooms.create(Room(name="general")),
        storage.messages.append(draft("general", alice)),
        storage.rooms.add_member("general", alice.id),
    )
    assert (message.seq, created, added) == (1, True, True)
