"""ReadMarkers and mentions: markers only move forward, counts of others' messages after
the marker and of those mentioning the reader, capped; mentions resolved to members."""

from __future__ import annotations

import dataclasses

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.mentions import mention_keys
from rtchat.domain.models import ReadState, RoomKind, User, dm_room_name
from rtchat.ports import UNREAD_CAP, Storage
from tests.contract.support import add_room, add_user, draft


async def post(storage: Storage, room: str, author: User, text: str = "hello") -> int:
    sent = dataclasses.replace(draft(room, author, text), mention_keys=mention_keys(text))
    message, _ = await storage.messages.append(sent)
    return message.seq


async def test_a_new_reader_has_everything_others_wrote_unread(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    await add_room(storage, "a", alice, bob)
    await add_room(storage, "quiet", alice)
    for author in (alice, bob, bob):
        await post(storage, "a", author)
    states = await storage.reads.states(alice.id, ["a", "quiet", "nowhere"])
    assert states == {"a": ReadState("a", 0, 2, 0), "quiet": ReadState("quiet", 0, 0, 0)}
    assert await storage.reads.states(alice.id, []) == {}


async def test_a_marker_moves_forward_only_and_stops_at_the_last_seq(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    await add_room(storage, "a", alice, bob)
    for _ in range(5):
        await post(storage, "a", bob)
    assert await storage.reads.mark(alice.id, "a", 0) == (ReadState("a", 0, 5, 0), False)
    assert await storage.reads.mark(alice.id, "a", 3) == (ReadState("a", 3, 2, 0), True)
    assert await storage.reads.mark(alice.id, "a", 3) == (ReadState("a", 3, 2, 0), False)
    # Never back; past the end is the end.
    assert await storage.reads.mark(alice.id, "a", 1) == (ReadState("a", 3, 2, 0), False)
    assert await storage.reads.mark(alice.id, "a", 99) == (ReadState("a", 5, 0, 0), True)
    assert await storage.reads.mark(alice.id, "a", 99) == (ReadState("a", 5, 0, 0), False)
    await post(storage, "a", bob)
    assert await storage.reads.states(alice.id, ["a"]) == {"a": ReadState("a", 5, 1, 0)}
    # Per reader: Bob's marker is his own.
    assert await storage.reads.states(bob.id, ["a"]) == {"a": ReadState("a", 0, 0, 0)}


async def test_marking_an_unknown_room_is_room_not_found(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    with pytest.raises(ChatError) as caught:
        await storage.reads.mark(alice.id, "nowhere", 1)
    assert caught.value.code is ErrorCode.ROOM_NOT_FOUND


async def test_mentions_name_members_only_and_are_counted(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    carol = await add_user(storage, "Carol")  # not in the room
    await add_room(storage, "a", alice, bob)
    seq = await post(storage, "a", bob, "hi @ALICE, and @carol and @nobody and @bob!")
    stored = (await storage.messages.after("a", seq - 1, 1))[0]
    assert stored.mentions == (alice, bob)  # by name key; carol is no member
    assert carol not in stored.mentions
    await post(storage, "a", bob, "no mention: alice@example.com")
    await post(storage, "a", alice, "@alice talking to myself")
    assert await storage.reads.states(alice.id, ["a"]) == {"a": ReadState("a", 0, 2, 1)}
    # Bob mentioned himself: his own messages never count.
    assert await storage.reads.states(bob.id, ["a"]) == {"a": ReadState("a", 0, 1, 0)}
    assert await storage.reads.mark(alice.id, "a", seq) == (ReadState("a", seq, 1, 0), True)


async def test_a_retry_answers_the_stored_mentions(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    await add_room(storage, "a", alice, bob)
    sent = dataclasses.replace(
        draft("a", bob, "@alice look", client_id="c1"), mention_keys=mention_keys("@alice look")
    )
    first, created = await storage.messages.append(sent)
    again, created_again = await storage.messages.append(dataclasses.replace(sent, id="other"))
    assert (created, created_again) == (True, False)
    assert first.mentions == again.mentions == (alice,)
    assert (await storage.messages.latest("a", 1))[0].mentions == (alice,)


async def test_mentions_in_a_direct_message(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    name = dm_room_name(alice.id, bob.id)
    await add_room(storage, name, alice, bob, kind=RoomKind.DM)
    await post(storage, name, bob, "@Alice?")
    assert await storage.reads.states(alice.id, [name]) == {name: ReadState(name, 0, 1, 1)}


async def test_counts_stop_at_the_cap(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    await add_room(storage, "a", alice, bob)
    for _ in range(UNREAD_CAP + 3):
        await storage.messages.append(draft("a", bob, "@alice"))  # no keys: no mention
    await post(storage, "a", bob, "@alice")
    assert await storage.reads.states(alice.id, ["a"]) == {"a": ReadState("a", 0, UNREAD_CAP, 1)}
