"""MessageStore: sequence numbers, pages, idempotent retries, concurrency."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Message, MessageDraft, User
from rtchat.ports import Storage
from tests.contract.support import add_room, draft


async def fill(storage: Storage, room: str, author: User, count: int) -> None:
    for i in range(1, count + 1):
        await storage.messages.append(draft(room, author, f"m{i}"))


def seqs(messages: list[Message]) -> list[int]:
    return [m.seq for m in messages]


async def test_append_numbers_each_room_independently(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    await add_room(storage, "b")
    got = []
    for room in ("a", "b", "a", "a", "b"):
        message, created = await storage.messages.append(draft(room, alice))
        assert created
        got.append((room, message.seq))
    assert got == [("a", 1), ("b", 1), ("a", 2), ("a", 3), ("b", 2)]
    assert await storage.messages.last_seq("a") == 3
    assert await storage.messages.last_seq("b") == 2


async def test_append_returns_what_it_stored(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    sent = draft("a", alice, "hi there", client_id="c1")
    message, _ = await storage.messages.append(sent)
    assert (message.id, message.room, message.author, message.text, message.client_id) == (
        sent.id,
        "a",
        alice,
        "hi there",
        "c1",
    )
    assert message.timestamp == sent.timestamp
    assert await storage.messages.latest("a", 10) == [message]


async def test_the_connection_and_a_guest_author_are_kept(storage: Storage, alice: User) -> None:
    # A guest is never stored as a user: the message alone says who wrote it.
    await add_room(storage, "a")
    guest = User(id="g1", username="Alice", guest=True)
    sent = [
        dataclasses.replace(draft("a", alice, client_id="c1"), sent_from="sock-1"),
        dataclasses.replace(draft("a", guest, client_id="c2"), sent_from="sock-2"),
        draft("a", alice),  # from a caller that names no connection
    ]
    stored = [(await storage.messages.append(d))[0] for d in sent]
    assert [(m.author, m.sent_from) for m in stored] == [
        (alice, "sock-1"),
        (guest, "sock-2"),
        (alice, None),
    ]
    for page in (
        await storage.messages.latest("a", 10),
        await storage.messages.after("a", 0, 10),
        await storage.messages.before("a", 4, 10),
    ):
        assert page == stored
    # A retry (from another connection) answers what was stored, connection and all.
    again, created = await storage.messages.append(
        dataclasses.replace(draft("a", guest, client_id="c2"), sent_from="sock-3")
    )
    assert (again, created) == (stored[1], False)


async def test_timestamps_come_back_as_utc_to_the_microsecond(
    storage: Storage, alice: User
) -> None:
    await add_room(storage, "a")
    plus_two = timezone(timedelta(hours=2))
    stamps = [
        datetime(2026, 3, 1, 12, 0, 0, 1, tzinfo=UTC),
        datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 3, 1, 14, 0, 0, 500000, tzinfo=plus_two),
    ]
    for i, stamp in enumerate(stamps):
        await storage.messages.append(
            MessageDraft(id=f"t{i}", room="a", author=alice, text="x", timestamp=stamp)
        )
    stored = await storage.messages.latest("a", 10)
    assert [m.timestamp for m in stored] == stamps
    assert all(m.timestamp.utcoffset() == timedelta(0) for m in stored)


async def test_append_to_an_unknown_room_is_room_not_found(storage: Storage, alice: User) -> None:
    with pytest.raises(ChatError) as caught:
        await storage.messages.append(draft("nowhere", alice))
    assert caught.value.code is ErrorCode.ROOM_NOT_FOUND


async def test_pages_of_an_empty_or_unknown_room_are_empty(storage: Storage) -> None:
    await add_room(storage, "a")
    for room in ("a", "nowhere"):
        assert await storage.messages.latest(room, 10) == []
        assert await storage.messages.before(room, 5, 10) == []
        assert await storage.messages.after(room, 0, 10) == []
        assert await storage.messages.last_seq(room) == 0


async def test_latest_is_the_newest_oldest_first(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    await fill(storage, "a", alice, 5)
    assert seqs(await storage.messages.latest("a", 3)) == [3, 4, 5]
    assert seqs(await storage.messages.latest("a", 5)) == [1, 2, 3, 4, 5]
    assert seqs(await storage.messages.latest("a", 50)) == [1, 2, 3, 4, 5]
    assert [m.text for m in await storage.messages.latest("a", 2)] == ["m4", "m5"]


@pytest.mark.parametrize(
    ("seq", "limit", "expected"),
    [
        (4, 2, [2, 3]),
        (4, 10, [1, 2, 3]),
        (6, 2, [4, 5]),  # just beyond the end: the newest
        (100, 3, [3, 4, 5]),
        (1, 10, []),
        (0, 10, []),
        (-3, 10, []),
    ],
)
async def test_before(
    storage: Storage, alice: User, seq: int, limit: int, expected: list[int]
) -> None:
    await add_room(storage, "a")
    await fill(storage, "a", alice, 5)
    assert seqs(await storage.messages.before("a", seq, limit)) == expected


@pytest.mark.parametrize(
    ("seq", "limit", "expected"),
    [
        (0, 2, [1, 2]),
        (0, 10, [1, 2, 3, 4, 5]),
        (-1, 2, [1, 2]),
        (2, 2, [3, 4]),
        (4, 10, [5]),
        (5, 10, []),  # caught up
        (99, 10, []),
    ],
)
async def test_after(
    storage: Storage, alice: User, seq: int, limit: int, expected: list[int]
) -> None:
    await add_room(storage, "a")
    await fill(storage, "a", alice, 5)
    assert seqs(await storage.messages.after("a", seq, limit)) == expected


@pytest.mark.parametrize("limit", [0, -1])
async def test_a_limit_below_one_returns_nothing(storage: Storage, alice: User, limit: int) -> None:
    # SQL reads LIMIT -1 as "no limit"; the port means "none".
    await add_room(storage, "a")
    await fill(storage, "a", alice, 3)
    assert await storage.messages.latest("a", limit) == []
    assert await storage.messages.before("a", 3, limit) == []
    assert await storage.messages.after("a", 0, limit) == []


async def test_pages_stay_in_their_room(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    await add_room(storage, "b")
    await fill(storage, "a", alice, 3)
    await fill(storage, "b", alice, 2)
    assert {m.room for m in await storage.messages.after("a", 0, 10)} == {"a"}
    assert seqs(await storage.messages.after("b", 0, 10)) == [1, 2]


async def test_a_retry_returns_the_stored_message(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    first, created = await storage.messages.append(draft("a", alice, "once", client_id="c1"))
    assert created
    again, created_again = await storage.messages.append(
        draft("a", alice, "once, resent", client_id="c1")
    )
    assert not created_again
    assert again == first
    assert await storage.messages.last_seq("a") == 1
    assert await storage.messages.latest("a", 10) == [first]


async def test_client_ids_belong_to_their_author(storage: Storage, alice: User, bob: User) -> None:
    await add_room(storage, "a")
    mine, _ = await storage.messages.append(draft("a", alice, client_id="same"))
    theirs, created = await storage.messages.append(draft("a", bob, client_id="same"))
    assert created
    assert (mine.seq, theirs.seq) == (1, 2)


async def test_no_client_id_never_deduplicates(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    for _ in range(3):
        _, created = await storage.messages.append(draft("a", alice, "same text"))
        assert created
    assert await storage.messages.last_seq("a") == 3


async def test_concurrent_appends_get_every_seq_once(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    results = await asyncio.gather(
        *(storage.messages.append(draft("a", alice, f"m{i}")) for i in range(200))
    )
    assert sorted(m.seq for m, _ in results) == list(range(1, 201))
    assert all(created for _, created in results)
    stored = await storage.messages.after("a", 0, 500)
    assert seqs(stored) == list(range(1, 201))
    assert len({m.id for m in stored}) == 200


async def test_concurrent_retries_store_one_message(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    results = await asyncio.gather(
        *(storage.messages.append(draft("a", alice, client_id="retry")) for _ in range(20))
    )
    assert sum(created for _, created in results) == 1
    assert len({m for m, _ in results}) == 1
    assert await storage.messages.last_seq("a") == 1


async def test_a_message_id_is_stored_once(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    first = draft("a", alice)
    await storage.messages.append(first)
    with pytest.raises(ChatError) as caught:
        await storage.messages.append(
            MessageDraft(id=first.id, room="a", author=alice, text="x", timestamp=first.timestamp)
        )
    assert caught.value.code is ErrorCode.INTERNAL
    assert await storage.messages.last_seq("a") == 1


async def test_messages_keep_the_name_their_author_had(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    message, _ = await storage.messages.append(draft("a", alice))
    await storage.users.release(alice.id)
    assert await storage.messages.latest("a", 1) == [message]
    assert message.author.username == "Alice"


async def test_a_failed_append_among_concurrent_ones_fails_alone(
    storage: Storage, alice: User
) -> None:
    await add_room(storage, "a")
    first, _ = await storage.messages.append(draft("a", alice))
    clash = MessageDraft(id=first.id, room="a", author=alice, text="x", timestamp=first.timestamp)
    drafts = [draft("a", alice) for _ in range(4)]
    drafts[1:1] = [clash, draft("nowhere", alice)]
    results = await asyncio.gather(
        *(storage.messages.append(d) for d in drafts), return_exceptions=True
    )
    errors = [r.code for r in results if isinstance(r, ChatError)]
    assert errors == [ErrorCode.INTERNAL, ErrorCode.ROOM_NOT_FOUND]
    # The failures took no sequence numbers: the rest follow on without a gap.
    assert seqs(await storage.messages.after("a", 0, 10)) == [1, 2, 3, 4, 5]


async def test_a_naive_timestamp_is_refused(storage: Storage, alice: User) -> None:
    await add_room(storage, "a")
    naive = MessageDraft(id="n", room="a", author=alice, text="x", timestamp=datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await storage.messages.append(naive)
    assert await storage.messages.last_seq("a") == 0
