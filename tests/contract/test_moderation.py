"""ModerationStore: roles, bans and mutes with their ends, and blocks of direct messages."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.moderation import Restriction, Role, Until
from rtchat.ports import Storage
from tests.contract.support import T0, add_room, add_user


async def test_roles_are_set_replaced_and_removed(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "Bob")
    await add_room(storage, "dev", alice, bob)
    await add_room(storage, "ops", alice)
    mod = storage.moderation
    assert await mod.role("dev", alice.id) is Role.MEMBER
    await mod.set_role("dev", alice.id, Role.OWNER)
    await mod.set_role("dev", bob.id, Role.MODERATOR)
    await mod.set_role("ops", alice.id, Role.MODERATOR)
    assert await mod.role("dev", alice.id) is Role.OWNER
    assert await mod.roles("dev") == {alice.id: Role.OWNER, bob.id: Role.MODERATOR}
    assert await mod.roles_of(alice.id) == {"dev": Role.OWNER, "ops": Role.MODERATOR}
    await mod.set_role("ops", alice.id, Role.OWNER)  # replaced, not added
    assert await mod.roles_of(alice.id) == {"dev": Role.OWNER, "ops": Role.OWNER}
    await mod.set_role("dev", bob.id, Role.MEMBER)
    await mod.set_role("dev", bob.id, Role.MEMBER)  # nothing to remove: no error
    assert await mod.role("dev", bob.id) is Role.MEMBER
    assert await mod.roles("dev") == {alice.id: Role.OWNER}
    assert await mod.roles("nowhere") == {}


async def test_a_role_or_restriction_in_an_unknown_room_is_room_not_found(
    storage: Storage,
) -> None:
    alice = await add_user(storage, "Alice")
    for attempt in (
        storage.moderation.set_role("nowhere", alice.id, Role.MODERATOR),
        storage.moderation.restrict("nowhere", alice.id, Restriction.BAN, None),
    ):
        with pytest.raises(ChatError) as caught:
            await attempt
        assert caught.value.code is ErrorCode.ROOM_NOT_FOUND
    assert await storage.moderation.roles_of(alice.id) == {}


async def test_restrictions_keep_their_end_and_are_lifted_by_kind(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    await add_room(storage, "dev", alice)
    await add_room(storage, "ops", alice)
    mod = storage.moderation
    ends = T0 + timedelta(seconds=90)
    assert await mod.restriction("dev", alice.id, Restriction.BAN) is None
    await mod.restrict("dev", alice.id, Restriction.BAN, None)
    await mod.restrict("dev", alice.id, Restriction.MUTE, ends)
    await mod.restrict("ops", alice.id, Restriction.MUTE, T0)
    assert await mod.restriction("dev", alice.id, Restriction.BAN) == Until(None)
    assert await mod.restriction("dev", alice.id, Restriction.MUTE) == Until(ends)
    assert await mod.restrictions_of(alice.id, Restriction.MUTE) == {"dev": ends, "ops": T0}
    assert await mod.restrictions_of(alice.id, Restriction.BAN) == {"dev": None}
    await mod.restrict("dev", alice.id, Restriction.MUTE, None)  # replaced: now until lifted
    assert await mod.restriction("dev", alice.id, Restriction.MUTE) == Until(None)
    assert await mod.lift("dev", alice.id, Restriction.BAN) is True
    assert await mod.lift("dev", alice.id, Restriction.BAN) is False
    assert await mod.restriction("dev", alice.id, Restriction.BAN) is None
    assert await mod.restriction("dev", alice.id, Restriction.MUTE) == Until(None)


def test_an_end_in_the_past_is_not_active() -> None:
    assert Until(None).active(T0)
    assert Until(T0 + timedelta(microseconds=1)).active(T0)
    assert not Until(T0).active(T0)


async def test_blocks_are_one_way_and_listed_by_name(storage: Storage) -> None:
    alice = await add_user(storage, "alice")
    bob = await add_user(storage, "Bob")
    carol = await add_user(storage, "carol")
    mod = storage.moderation
    assert await mod.block(alice.id, carol.id) is True
    assert await mod.block(alice.id, bob.id) is True
    assert await mod.block(alice.id, bob.id) is False
    assert await mod.block(carol.id, bob.id) is True
    assert await mod.blocked_by(alice.id) == [bob, carol]
    assert await mod.blocked_by(bob.id) == []
    assert await mod.blockers_of(bob.id) == {alice.id, carol.id}
    assert await mod.blockers_of(alice.id) == set()
    assert await mod.unblock(alice.id, bob.id) is True
    assert await mod.unblock(alice.id, bob.id) is False
    assert await mod.blocked_by(alice.id) == [carol]
    assert await mod.blockers_of(bob.id) == {carol.id}


async def test_a_released_account_leaves_the_block_list(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "Bob")
    await storage.moderation.block(alice.id, bob.id)
    await storage.users.release(bob.id)
    assert await storage.moderation.blocked_by(alice.id) == []
