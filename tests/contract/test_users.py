"""UserStore: names unique as `name_key` compares them, tokens by hash, release forgets the
account, and when each account was last seen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import User
from rtchat.ports import Storage
from tests.contract.support import T0, add_room, add_user


async def test_a_created_user_is_found_every_way(storage: Storage) -> None:
    alice = User(id="u1", username="Alice")
    await storage.users.create(alice, token_hash="h1")
    assert await storage.users.by_id("u1") == alice
    assert await storage.users.by_token("h1") == alice
    assert await storage.users.by_name("Alice") == alice


@pytest.mark.parametrize("asked", ["alice", "ALICE", "aLiCe"])
async def test_by_name_ignores_case(storage: Storage, asked: str) -> None:
    alice = User(id="u1", username="Alice")
    await storage.users.create(alice, token_hash="h1")
    assert await storage.users.by_name(asked) == alice


async def test_unknown_users_are_none(storage: Storage) -> None:
    assert await storage.users.by_id("nobody") is None
    assert await storage.users.by_token("nothing") is None
    assert await storage.users.by_name("nobody") is None


@pytest.mark.parametrize("taken", ["Alice", "alice", "ALICE"])
async def test_a_held_name_is_taken_in_any_case(storage: Storage, taken: str) -> None:
    await storage.users.create(User(id="u1", username="Alice"), token_hash="h1")
    with pytest.raises(ChatError) as caught:
        await storage.users.create(User(id="u2", username=taken), token_hash="h2")
    assert caught.value.code is ErrorCode.USERNAME_TAKEN
    assert await storage.users.by_id("u2") is None
    assert await storage.users.by_token("h2") is None


async def test_case_folding_is_not_ascii_only(storage: Storage) -> None:
    await storage.users.create(User(id="u1", username="Ödön"), token_hash="h1")
    with pytest.raises(ChatError) as caught:
        await storage.users.create(User(id="u2", username="ÖDÖN"), token_hash="h2")
    assert caught.value.code is ErrorCode.USERNAME_TAKEN
    assert await storage.users.by_name("ödön") == User(id="u1", username="Ödön")


@pytest.mark.parametrize("lookalike", ["ａｌｉｃｅ", "аӏісе", "ALICE"])  # noqa: RUF001
async def test_names_that_look_alike_are_one_name(storage: Storage, lookalike: str) -> None:
    # Fullwidth Latin, and all Cyrillic: the store compares names by `name_key`.
    alice = User(id="u1", username="alice")
    await storage.users.create(alice, token_hash="h1")
    assert await storage.users.by_name(lookalike) == alice
    with pytest.raises(ChatError) as caught:
        await storage.users.create(User(id="u2", username=lookalike), token_hash="h2")
    assert caught.value.code is ErrorCode.USERNAME_TAKEN


async def test_release_frees_the_name_and_voids_the_token(storage: Storage) -> None:
    await storage.users.create(User(id="u1", username="Alice"), token_hash="h1")
    assert await storage.users.release("u1") is True
    assert await storage.users.by_token("h1") is None
    assert await storage.users.by_name("Alice") is None
    assert await storage.users.by_id("u1") is None

    again = User(id="u2", username="alice")
    await storage.users.create(again, token_hash="h2")
    assert await storage.users.by_name("ALICE") == again
    assert await storage.users.by_token("h2") == again
    assert await storage.users.by_token("h1") is None


async def test_releasing_twice_or_an_unknown_user_is_harmless(storage: Storage) -> None:
    await storage.users.create(User(id="u1", username="Alice"), token_hash="h1")
    assert await storage.users.release("u1") is True
    assert await storage.users.release("u1") is False
    assert await storage.users.release("nobody") is False
    assert await storage.users.by_name("Alice") is None


async def test_a_released_account_is_in_no_room(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    bob = await add_user(storage, "Bob")
    await add_room(storage, "general", alice, bob)
    await add_room(storage, "dev", alice)
    await storage.users.release(alice.id)
    assert await storage.rooms.rooms_of(alice.id) == []
    assert await storage.rooms.members("general", 100) == [bob]
    assert (await storage.rooms.summary("dev")).member_count == 0  # type: ignore[union-attr]
    with pytest.raises(ChatError) as caught:
        await storage.rooms.add_member("general", alice.id)
    assert caught.value.code is ErrorCode.USER_NOT_FOUND


async def test_dormant_accounts_are_those_last_seen_before_a_time(storage: Storage) -> None:
    day = timedelta(days=1)
    old = User("u-old", "old")
    older = User("u-older", "older")
    back = User("u-back", "back")
    fresh = User("u-fresh", "fresh")
    await storage.users.create(older, token_hash="h0", seen=T0 - 40 * day)
    await storage.users.create(old, token_hash="h1", seen=T0 - 31 * day)
    await storage.users.create(back, token_hash="h2", seen=T0 - 50 * day)
    await storage.users.create(fresh, token_hash="h3", seen=T0 - day)
    await storage.users.seen(back.id, T0)
    await storage.users.seen("nobody", T0)  # harmless
    cutoff = T0 - 30 * day
    assert await storage.users.dormant(cutoff, 10) == [older, old]  # longest unseen first
    assert await storage.users.dormant(cutoff, 1) == [older]
    assert await storage.users.dormant(cutoff, 0) == []


async def test_a_release_that_must_be_unseen_skips_an_account_seen_since(
    storage: Storage,
) -> None:
    alice = User("u1", "alice")
    await storage.users.create(alice, token_hash="h1", seen=T0 - timedelta(days=40))
    cutoff = T0 - timedelta(days=30)
    await storage.users.seen(alice.id, T0)  # came back after the sweep had picked them
    assert await storage.users.release(alice.id, unseen_since=cutoff) is False
    assert await storage.users.by_name("alice") == alice
    await storage.users.seen(alice.id, cutoff - timedelta(seconds=1))
    assert await storage.users.release(alice.id, unseen_since=cutoff) is True
    assert await storage.users.by_name("alice") is None


async def test_created_accounts_are_seen_now_by_default(storage: Storage) -> None:
    alice = User("u1", "alice")
    await storage.users.create(alice, token_hash="h1")
    now = datetime.now(UTC)
    assert await storage.users.dormant(now - timedelta(minutes=1), 10) == []
    assert await storage.users.dormant(now + timedelta(minutes=1), 10) == [alice]


async def test_a_released_token_hash_can_be_issued_again(storage: Storage) -> None:
    await storage.users.create(User(id="u1", username="Alice"), token_hash="h1")
    await storage.users.release("u1")
    await storage.users.create(User(id="u2", username="Bob"), token_hash="h1")
    assert await storage.users.by_token("h1") == User(id="u2", username="Bob")


async def test_a_user_id_or_token_hash_is_stored_once(storage: Storage) -> None:
    await storage.users.create(User(id="u1", username="Alice"), token_hash="h1")
    for user, token in ((User(id="u1", username="Bob"), "h2"), (User("u3", "Carol"), "h1")):
        with pytest.raises(ChatError) as caught:
            await storage.users.create(user, token_hash=token)
        assert caught.value.code is ErrorCode.INTERNAL
    assert await storage.users.by_name("Bob") is None
    assert await storage.users.by_name("Carol") is None


async def test_a_rename_moves_the_name(storage: Storage) -> None:
    alice = User(id="u1", username="Alice")
    await storage.users.create(alice, token_hash="h1")
    await add_room(storage, "dev", alice)
    await storage.users.rename("u1", "Alicia")
    renamed = User(id="u1", username="Alicia")
    assert await storage.users.by_id("u1") == renamed
    assert await storage.users.by_token("h1") == renamed
    assert await storage.users.by_name("alicia") == renamed
    assert await storage.users.by_name("Alice") is None  # free for anyone now
    assert await storage.rooms.members("dev", 10) == [renamed]
    await storage.users.create(User(id="u2", username="alice"), token_hash="h2")
    # Its own name in another case is its own.
    await storage.users.rename("u1", "ALICIA")
    assert (await storage.users.by_id("u1")) == User(id="u1", username="ALICIA")


async def test_a_rename_to_another_accounts_name_changes_nothing(storage: Storage) -> None:
    await storage.users.create(User(id="u1", username="Alice"), token_hash="h1")
    await storage.users.create(User(id="u2", username="Bob"), token_hash="h2")
    with pytest.raises(ChatError) as caught:
        await storage.users.rename("u1", "BOB")
    assert caught.value.code is ErrorCode.USERNAME_TAKEN
    assert await storage.users.by_id("u1") == User(id="u1", username="Alice")
    assert await storage.users.by_name("bob") == User(id="u2", username="Bob")
    await storage.users.rename("nobody", "Carol")  # no such account: nothing happens
    assert await storage.users.by_name("Carol") is None
