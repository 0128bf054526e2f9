"""MessageSearch: whole words, newest first, paged by cursor, only the reader's rooms."""

from __future__ import annotations

import pytest

from rtchat.domain.models import Message, RoomKind, User, dm_room_name
from rtchat.ports import SearchCursor, SearchQuery, Storage
from rtchat.storage._common import to_micros
from tests.contract.support import add_room, add_user, draft


async def post(storage: Storage, room: str, author: User, text: str) -> Message:
    message, _ = await storage.messages.append(draft(room, author, text))
    return message


def cursor(message: Message) -> SearchCursor:
    return (to_micros(message.timestamp), message.room, message.seq)


async def find(
    storage: Storage,
    user: User,
    *words: str,
    room: str | None = None,
    before: SearchCursor | None = None,
    limit: int = 50,
) -> list[str]:
    found = await storage.search.search(SearchQuery(user.id, words, limit, room, before))
    return [m.id for m in found]


async def test_every_word_must_match_case_folded(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    await add_room(storage, "a", alice)
    one = await post(storage, "a", alice, "The Quick brown fox")
    two = await post(storage, "a", alice, "a quick lunch")
    await post(storage, "a", alice, "quickly now")
    assert await find(storage, alice, "quick") == [two.id, one.id]
    assert await find(storage, alice, "QUICK", "fox") == [one.id]
    assert await find(storage, alice, "slow") == []


async def test_query_syntax_is_plain_words(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    await add_room(storage, "a", alice)
    hit = await post(storage, "a", alice, "use AND or NOT near the text")
    for words in (["AND"], ["NOT"], ['"near'], ["text*"], ["OR", "near"], ["NEAR(a"], ["a'"]):
        # None of these is read as a query operator; quotes, stars and brackets stay words.
        assert isinstance(await find(storage, alice, *words), list)
    assert await find(storage, alice, "and", "not") == [hit.id]


async def test_results_are_newest_first_across_rooms_and_paged(storage: Storage) -> None:
    alice = await add_user(storage, "Alice")
    await add_room(storage, "a", alice)
    await add_room(storage, "b", alice)
    sent = [await post(storage, "ab"[i % 2], alice, f"needle {i}") for i in range(7)]
    newest_first = [m.id for m in reversed(sent)]
    assert await find(storage, alice, "needle") == newest_first
    pages: list[list[str]] = []
    before: SearchCursor | None = None
    while True:
        found = await storage.search.search(SearchQuery(alice.id, ("needle",), 3, None, before))
        if not found:
            break
        pages.append([m.id for m in found])
        before = cursor(found[-1])
    assert pages == [newest_first[0:3], newest_first[3:6], newest_first[6:]]
    assert await find(storage, alice, "needle", room="b") == [m.id for m in reversed(sent[1::2])]
    assert await find(storage, alice, "needle", limit=0) == []


async def test_search_never_returns_a_room_the_reader_cannot_read(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    carol = await add_user(storage, "Carol")
    await add_room(storage, "open", alice, bob, carol)
    await add_room(storage, "left", alice, carol)
    dm = dm_room_name(bob.id, carol.id)
    await add_room(storage, dm, bob, carol, kind=RoomKind.DM)
    mine = await post(storage, "open", bob, "secret plans")
    in_left = await post(storage, "left", carol, "secret plans")
    in_dm = await post(storage, dm, bob, "secret plans")
    assert await find(storage, carol, "secret") == [in_dm.id, in_left.id, mine.id]
    assert await find(storage, alice, "secret") == [in_left.id, mine.id]
    await storage.rooms.remove_member("left", alice.id)
    assert await find(storage, alice, "secret") == [mine.id]
    assert await find(storage, alice, "secret", room=dm) == []
    assert await find(storage, alice, "secret", room="left") == []


async def test_a_search_by_no_member_reads_the_one_room_it_names(storage: Storage) -> None:
    alice, bob = await add_user(storage, "Alice"), await add_user(storage, "Bob")
    await add_room(storage, "nobodys")  # a bot's room: no member at all
    await add_room(storage, "bobs", bob)
    first = await post(storage, "nobodys", alice, "release notes")
    second = await post(storage, "nobodys", bob, "more release notes")
    await post(storage, "bobs", bob, "release party")

    async def by_no_member(room: str, before: SearchCursor | None = None) -> list[str]:
        found = await storage.search.search(SearchQuery(None, ("release",), 1, room, before))
        return [m.id for m in found]

    assert await by_no_member("nobodys") == [second.id]
    assert await by_no_member("nobodys", cursor(second)) == [first.id]
    assert len(await by_no_member("bobs")) == 1
    with pytest.raises(ValueError, match="one room"):
        SearchQuery(None, ("release",), 10)  # all rooms of no member: never asked
