"""UserStore: names unique case-insensitively, tokens by hash, release frees the name."""

from __future__ import annotations

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import User
from rtchat.ports import Storage


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


async def test_release_frees_the_name_and_voids_the_token(storage: Storage) -> None:
    await storage.users.create(User(id="u1", username="Alice"), token_hash="h1")
    await storage.users.release("u1")
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
    await storage.users.release("u1")
    await storage.users.release("u1")
    await storage.users.release("nobody")
    assert await storage.users.by_name("Alice") is None


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
