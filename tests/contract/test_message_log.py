"""MessageStore as a room's log: edits, deletes, reactions and replies, numbered with the
messages by one gap-free sequence, applied once however often they are retried."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import timedelta

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import (
    QUOTE_LENGTH,
    REACTION_NAMES,
    Change,
    ChangeDraft,
    ChangeKind,
    Message,
    Reaction,
    User,
)
from rtchat.ports import Storage
from tests.contract.support import T0, add_room, add_user, draft


def change(
    message: Message,
    actor: User,
    kind: ChangeKind,
    value: str = "",
    *,
    client_id: str | None = None,
    room: str | None = None,
) -> ChangeDraft:
    return ChangeDraft(
        room=room or message.room,
        target=message.id,
        actor=actor,
        kind=kind,
        timestamp=T0 + timedelta(minutes=1),
        value=value,
        client_id=client_id,
    )


async def post(storage: Storage, room: str, author: User, text: str = "hello") -> Message:
    message, _ = await storage.messages.append(draft(room, author, text))
    return message


async def test_one_gap_free_sequence_across_kinds(storage: Storage, alice: User, bob: User) -> None:
    await add_room(storage, "a")
    first = await post(storage, "a", alice, "one")
    _, edit = await storage.messages.change(change(first, alice, ChangeKind.EDIT, "uno"))
    second = await post(storage, "a", bob, "two")
    _, like = await storage.messages.change(change(second, alice, ChangeKind.REACT, "👍"))
    _, gone = await storage.messages.change(change(first, alice, ChangeKind.DELETE))
    third = await post(storage, "a", bob, "three")
    assert edit is not None
    assert like is not None
    assert gone is not None
    assert [first.seq, edit.seq, second.seq, like.seq, gone.seq, third.seq] == [1, 2, 3, 4, 5, 6]
    assert await storage.messages.last_seq("a") == 6
    summary = await storage.rooms.summary("a")
    assert summary is not None
    assert summary.last_seq == 6

    entries = await storage.messages.after("a", 0, 100)
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5, 6]
    kinds = [e.kind if isinstance(e, Change) else "message" for e in entries]
    assert kinds == ["message", "edit", "message", "react", "delete", "message"]
    assert [e.seq for e in await storage.messages.after("a", 2, 2)] == [3, 4]
    assert await storage.messages.after("a", 6, 10) == []


async def test_an_edit_changes_the_text_and_marks_it(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice, "helo")
    assert message.edited_at is None
    assert not message.deleted
    assert message.reactions == ()
    edited, entry = await storage.messages.change(change(message, alice, ChangeKind.EDIT, "hello"))
    assert entry is not None
    assert (entry.kind, entry.target, entry.actor, entry.value) == (
        ChangeKind.EDIT,
        message.id,
        alice,
        "hello",
    )
    assert entry.timestamp == T0 + timedelta(minutes=1)
    assert edited.text == "hello"
    assert edited.edited_at == entry.timestamp
    assert edited.seq == message.seq
    for page in (
        await storage.messages.latest("a", 10),
        await storage.messages.before("a", 10, 10),
        [await storage.messages.get("a", message.id)],
    ):
        assert page == [edited]
    assert (await storage.messages.after("a", 0, 10))[0] == edited


async def test_the_same_text_again_changes_nothing(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice, "hi")
    same, entry = await storage.messages.change(change(message, alice, ChangeKind.EDIT, "hi"))
    assert entry is None
    assert same == message
    assert await storage.messages.last_seq("a") == 1


async def test_a_retried_change_is_applied_once(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice, "hi")
    first = change(message, alice, ChangeKind.EDIT, "hi!", client_id="e1")
    _edited, entry = await storage.messages.change(first)
    await storage.messages.change(change(message, alice, ChangeKind.EDIT, "hi?"))
    # The retry of the first edit, arriving after the second: nothing changes back.
    now, again = await storage.messages.change(first)
    assert entry is not None
    assert again is None
    assert now.text == "hi?"
    assert await storage.messages.last_seq("a") == 3


async def test_concurrent_retries_of_a_reaction_count_once(
    storage: Storage, alice: User, bob: User
) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice)
    attempts = [change(message, bob, ChangeKind.REACT, "🎉", client_id=f"r{i}") for i in range(5)]
    results = await asyncio.gather(*(storage.messages.change(d) for d in attempts))
    assert sum(entry is not None for _, entry in results) == 1
    stored = await storage.messages.get("a", message.id)
    assert stored is not None
    assert stored.reactions == (Reaction("🎉", 1, ("Bob",)),)
    assert await storage.messages.last_seq("a") == 2


async def test_reactions_count_who_gave_them(storage: Storage, alice: User, bob: User) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice)
    _, one = await storage.messages.change(change(message, bob, ChangeKind.REACT, "👍"))
    _, two = await storage.messages.change(change(message, alice, ChangeKind.REACT, "👍"))
    _, heart = await storage.messages.change(change(message, alice, ChangeKind.REACT, "❤️"))
    _, again = await storage.messages.change(change(message, alice, ChangeKind.REACT, "👍"))
    assert one is not None
    assert two is not None
    assert heart is not None
    assert again is None
    assert (one.count, two.count, heart.count) == (1, 2, 1)
    stored = await storage.messages.get("a", message.id)
    assert stored is not None
    assert stored.reactions == (Reaction("👍", 2, ("Bob", "Alice")), Reaction("❤️", 1, ("Alice",)))

    now, off = await storage.messages.change(change(message, bob, ChangeKind.UNREACT, "👍"))
    assert off is not None
    assert off.count == 1
    assert off.kind is ChangeKind.UNREACT
    assert now.reactions == (Reaction("👍", 1, ("Alice",)), Reaction("❤️", 1, ("Alice",)))
    _, twice = await storage.messages.change(change(message, bob, ChangeKind.UNREACT, "👍"))
    assert twice is None
    assert await storage.messages.last_seq("a") == 5


async def test_reactions_name_only_the_first_givers(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice)
    users = [await add_user(storage, f"U{i:02d}") for i in range(REACTION_NAMES + 2)]
    for user in users:
        await storage.messages.change(change(message, user, ChangeKind.REACT, "👀"))
    stored = await storage.messages.get("a", message.id)
    assert stored is not None
    (reaction,) = stored.reactions
    assert reaction.count == REACTION_NAMES + 2
    assert reaction.usernames == tuple(u.username for u in users[:REACTION_NAMES])


async def test_a_delete_leaves_a_tombstone(storage: Storage, alice: User, bob: User) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice, "secret")
    await storage.messages.change(change(message, alice, ChangeKind.EDIT, "more secret"))
    await storage.messages.change(change(message, bob, ChangeKind.REACT, "😮"))
    gone, entry = await storage.messages.change(change(message, alice, ChangeKind.DELETE))
    assert entry is not None
    assert entry.kind is ChangeKind.DELETE
    assert gone.deleted
    assert gone.text == ""
    assert gone.reactions == ()
    assert gone.seq == message.seq
    assert gone.author == alice
    assert await storage.messages.latest("a", 10) == [gone]
    entries = await storage.messages.after("a", 0, 10)
    assert entries[0] == gone
    # The words are gone from the store: the earlier edit keeps no text either.
    assert [(e.kind, e.value) for e in entries if isinstance(e, Change)] == [
        (ChangeKind.EDIT, ""),
        (ChangeKind.REACT, "😮"),
        (ChangeKind.DELETE, ""),
    ]

    again, twice = await storage.messages.change(change(message, alice, ChangeKind.DELETE))
    assert twice is None
    assert again == gone
    for kind, value in ((ChangeKind.EDIT, "back"), (ChangeKind.REACT, "👍")):
        with pytest.raises(ChatError) as failure:
            await storage.messages.change(change(message, alice, kind, value))
        assert failure.value.code == ErrorCode.MESSAGE_DELETED
    assert await storage.messages.last_seq("a") == 4


async def test_a_change_of_a_message_not_in_the_room_is_refused(
    storage: Storage, alice: User
) -> None:
    await add_room(storage, "a")
    await add_room(storage, "b")
    message = await post(storage, "a", alice)
    elsewhere = change(message, alice, ChangeKind.EDIT, "x", room="b")
    unknown = dataclasses.replace(change(message, alice, ChangeKind.DELETE), target="nope")
    for attempt in (elsewhere, unknown):
        with pytest.raises(ChatError) as failure:
            await storage.messages.change(attempt)
        assert failure.value.code == ErrorCode.MESSAGE_NOT_FOUND
    assert await storage.messages.get("b", message.id) is None
    assert await storage.messages.get("a", "nope") is None
    assert await storage.messages.last_seq("a") == 1
    assert await storage.messages.last_seq("b") == 0


async def test_a_reply_quotes_its_message(storage: Storage, alice: User, bob: User) -> None:
    await add_room(storage, "a")
    long = "x" * (QUOTE_LENGTH + 50)
    asked = await post(storage, "a", alice, long)
    reply, created = await storage.messages.append(
        dataclasses.replace(draft("a", bob, "yes"), reply_to=asked.id)
    )
    assert created
    assert reply.reply_to is not None
    quote = reply.reply_to
    assert (quote.id, quote.seq, quote.author, quote.text, quote.deleted) == (
        asked.id,
        asked.seq,
        alice,
        long[:QUOTE_LENGTH],
        False,
    )
    await storage.messages.change(change(asked, alice, ChangeKind.DELETE))
    stored = await storage.messages.get("a", reply.id)
    assert stored is not None
    assert stored.reply_to is not None
    assert stored.reply_to.deleted
    assert stored.reply_to.text == ""
    assert (await storage.messages.latest("a", 10))[-1] == stored


async def test_a_reply_to_another_rooms_message_is_refused(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    await add_room(storage, "b")
    elsewhere = await post(storage, "b", alice)
    for target in (elsewhere.id, "nope"):
        with pytest.raises(ChatError) as failure:
            await storage.messages.append(dataclasses.replace(draft("a", alice), reply_to=target))
        assert failure.value.code == ErrorCode.MESSAGE_NOT_FOUND
    assert await storage.messages.last_seq("a") == 0


async def test_a_retried_reply_answers_the_stored_one(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    asked = await post(storage, "a", alice)
    sent = dataclasses.replace(draft("a", alice, client_id="c1"), reply_to=asked.id)
    first, _ = await storage.messages.append(sent)
    again, created = await storage.messages.append(dataclasses.replace(sent, id="other"))
    assert not created
    assert again == first
    assert again.reply_to is not None


async def test_concurrent_changes_and_appends_share_the_sequence(
    storage: Storage, alice: User, bob: User
) -> None:
    await add_room(storage, "a")
    message = await post(storage, "a", alice)
    users = [await add_user(storage, f"R{i}") for i in range(10)]
    work = [storage.messages.change(change(message, u, ChangeKind.REACT, "👍")) for u in users]
    results = await asyncio.gather(
        *work, *(storage.messages.append(draft("a", bob)) for _ in range(10))
    )
    assert len(results) == 20
    entries = await storage.messages.after("a", 0, 100)
    assert [e.seq for e in entries] == list(range(1, 22))
    stored = await storage.messages.get("a", message.id)
    assert stored is not None
    assert stored.reactions[0].count == 10
