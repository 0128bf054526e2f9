"""Builders for the contract tests: users, rooms and drafts with predictable values."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from rtchat.domain.models import ChangeDraft, ChangeKind, MessageDraft, Room, RoomKind, User
from rtchat.domain.moderation import Restriction, Role, Until
from rtchat.ports import Storage

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)
_ids = itertools.count(1)


async def add_user(storage: Storage, name: str) -> User:
    user = User(id=f"user-{name.lower()}", username=name)
    await storage.users.create(user, token_hash=f"hash-{name.lower()}")
    return user


async def add_room(
    storage: Storage, name: str, *members: User, kind: RoomKind = RoomKind.ROOM
) -> Room:
    room = Room(name=name, kind=kind)
    await storage.rooms.create(room, tuple(m.id for m in members))
    return room


def draft(
    room: str, author: User, text: str = "hello", *, client_id: str | None = None
) -> MessageDraft:
    n = next(_ids)
    return MessageDraft(
        id=f"msg-{n}",
        room=room,
        author=author,
        text=text,
        timestamp=T0 + timedelta(microseconds=n),
        client_id=client_id,
    )


async def check_old_messages_join_the_log(storage: Storage) -> None:
    """A store migrated from version 3 with `general` holding `old-1` and `old-2` by the
    account `u1` (Alice): they are messages of the log, to edit and reply to."""
    old = await storage.messages.get("general", "old-1")
    assert old is not None
    assert (old.text, old.edited_at, old.deleted, old.reply_to, old.reactions) == (
        "old",
        None,
        False,
        None,
        (),
    )
    alice = User(id="u1", username="Alice")
    _, edit = await storage.messages.change(
        ChangeDraft("general", "old-1", alice, ChangeKind.EDIT, T0, "new")
    )
    reply, _ = await storage.messages.append(
        dataclasses.replace(draft("general", alice), reply_to="old-2")
    )
    assert edit is not None
    assert (edit.seq, reply.seq) == (3, 4)
    assert reply.reply_to is not None
    assert reply.reply_to.id == "old-2"
    assert [e.seq for e in await storage.messages.after("general", 0, 10)] == [1, 2, 3, 4]


async def check_upgraded_to_moderation(storage: Storage) -> None:
    """A store opened on a version 3 file or database holding room `dev` (account `u1`,
    message `old-1`): its room has no owner, its log is whole, moderation works."""
    assert await storage.moderation.roles("dev") == {}
    assert [m.id for m in await storage.messages.after("dev", 0, 5)] == ["old-1"]
    await storage.moderation.set_role("dev", "u1", Role.OWNER)
    await storage.moderation.restrict("dev", "u2", Restriction.BAN, None)
    assert await storage.moderation.roles_of("u1") == {"dev": Role.OWNER}
    assert await storage.moderation.restriction("dev", "u2", Restriction.BAN) == Until(None)


async def check_everything_survives_a_restart(
    open_storage: Callable[[], Awaitable[Storage]],
) -> None:
    """What one store kept is what the next store opened on the same database reads."""
    storage = await open_storage()
    try:
        alice = await add_user(storage, "Alice")
        bob = await add_user(storage, "Bob")
        await add_room(storage, "general", alice, bob)
        sent = [
            (await storage.messages.append(draft("general", alice, f"m{i}")))[0] for i in range(3)
        ]
        retried, _ = await storage.messages.append(draft("general", bob, client_id="c1"))
        await storage.users.release(bob.id)
        before = await storage.rooms.list_rooms("", 100)
    finally:
        await storage.close()

    storage = await open_storage()
    try:
        assert await storage.messages.after("general", 0, 10) == [*sent, retried]
        assert await storage.users.by_token("hash-alice") == alice
        assert await storage.users.by_name("bob") is None
        assert await storage.rooms.members("general", 100) == [alice]
        assert await storage.rooms.list_rooms("", 100) == before
        # Sequence numbers go on from where they were; a retry is still recognised.
        message, created = await storage.messages.append(draft("general", alice))
        assert (message.seq, created) == (5, True)
        again, created = await storage.messages.append(draft("general", bob, client_id="c1"))
        assert (again, created) == (retried, False)
    finally:
        await storage.close()
