"""Guests and renames, with memory ports: a join without a token can always chat under
the name it asked for, and never becomes the account that holds that name."""

from __future__ import annotations

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import UserConnected, UserDisconnected
from rtchat.domain.models import ConnectionId, RoomKind, User
from rtchat.service import SessionView
from tests.unit.conftest import Parts

A, B, C, D = (ConnectionId(c) for c in "abcd")


def who(view: SessionView) -> User:
    assert view.user is not None
    return view.user


async def refused(call: object) -> ErrorCode:
    with pytest.raises(ChatError) as caught:
        await call  # type: ignore[misc]
    return caught.value.code


async def test_a_second_join_under_a_held_name_is_a_guest(parts: Parts) -> None:
    chat = parts.chat
    for conn in (A, B, C):
        await chat.identity.connect(conn)
    owner = await chat.identity.join(A, "alice")
    tab = await chat.identity.join(B, "Alice")  # the seed's second tab: no token
    assert not who(owner).guest
    assert owner.token
    assert who(tab).guest
    assert who(tab).username == "Alice"
    assert who(tab).id != who(owner).id
    assert tab.token is None
    assert [s.room.name for s in tab.rooms] == ["general"]

    # Both chat; each message says which connection sent it and whether a guest did.
    first = await chat.messages.post(A, None, "from the account")
    second = await chat.messages.post(B, None, "from the guest")
    assert (first.author, first.sent_from) == (owner.user, A)
    assert (second.author, second.sent_from) == (tab.user, B)
    # Everyone heard the guest arrive, as the seed announces every join.
    arrived = [e.user for e in parts.out.received(C, UserConnected)]  # type: ignore[attr-defined]
    assert arrived == [owner.user, tab.user]


async def test_a_guest_takes_nothing_of_the_account(parts: Parts) -> None:
    chat = parts.chat
    for conn in (A, B, C):
        await chat.identity.connect(conn)
    owner = (await chat.identity.join(A, "alice")).user
    assert owner is not None
    await chat.rooms.create_room(A, "secret", None)
    await chat.identity.join(C, "carol")
    dm = await chat.rooms.open_dm(C, "alice")
    await chat.identity.join(B, "alice")

    for call in (
        chat.rooms.create_room(B, "mine", None),
        chat.rooms.join_room(B, "secret"),
        chat.rooms.join_room(B, dm.room.name),
        chat.rooms.open_dm(B, "carol"),
        chat.rooms.leave_room(B, "general"),
        chat.messages.post(B, dm.room.name, "let me in"),
        chat.messages.history(B, dm.room.name, 10),
        chat.messages.sync(B, {dm.room.name: 0}),
    ):
        assert await refused(call) is ErrorCode.FORBIDDEN
    # A direct message to "alice" is the account's, whoever else goes by the name.
    assert (await chat.rooms.open_dm(C, "ALICE")).room.name == dm.room.name
    assert await parts.storage.users.by_name("alice") == owner
    view = await chat.rooms.join_room(B, "general")  # the default room is everyone's
    assert view.summary.room.name == "general"
    assert owner.id in {m.id for m in view.members}


async def test_a_reload_or_a_restart_rejoins_as_a_guest_and_the_token_still_works(
    parts: Parts,
) -> None:
    chat = parts.chat
    await chat.identity.connect(A)
    owner = await chat.identity.join(A, "alice")
    await chat.identity.disconnect(A)  # the seed page reloads: a new socket, no token
    await chat.identity.connect(B)
    again = await chat.identity.join(B, "alice")
    assert who(again).guest
    assert (await chat.messages.post(B, None, "back")).author == again.user
    # The owner's own tab, with its token, is the account, as before.
    assert await chat.identity.connect(C, owner.token) == owner.user
    assert (await chat.messages.post(C, None, "me")).author == owner.user


async def test_the_join_can_ask_for_the_account_or_for_a_guest(parts: Parts) -> None:
    chat = parts.chat
    for conn in (A, B, C, D):
        await chat.identity.connect(conn)
    await chat.identity.join(A, "alice")
    assert await refused(chat.identity.join(B, "alice", guest=False)) is ErrorCode.USERNAME_TAKEN
    assert await refused(chat.identity.join(B, "alice", guest="yes")) is ErrorCode.INVALID_PAYLOAD
    assert (await chat.identity.session(B)).user is None
    # A guest by request holds nothing: the name it went by is free for an account.
    assert who(await chat.identity.join(C, "bob", guest=True)).guest
    assert not who(await chat.identity.join(D, "bob", guest=False)).guest


async def test_a_guest_leaves_like_anyone_and_holds_no_name(parts: Parts) -> None:
    chat = parts.chat
    for conn in (A, B, C):
        await chat.identity.connect(conn)
    await chat.identity.join(A, "watcher")
    guest = (await chat.identity.join(B, "dora", guest=True)).user
    await chat.identity.disconnect(B)
    gone = parts.out.received(A, UserDisconnected)
    assert [(e.user, e.connection) for e in gone] == [(guest, B)]  # type: ignore[attr-defined]
    assert not who(await chat.identity.join(C, "dora")).guest


async def test_a_rename_releases_the_old_name_at_once(parts: Parts) -> None:
    chat = parts.chat
    for conn in (A, B):
        await chat.identity.connect(conn)
    first = await chat.identity.join(A, "alice")
    for i in range(300):
        await chat.identity.join(A, f"alias{i}")
    # One account left, however many names the connection went through.
    assert await parts.storage.users.dormant(parts.clock.now().replace(year=2100), 1000) == [
        (await chat.identity.session(A)).user
    ]
    assert not who(await chat.identity.join(B, "alice")).guest  # free, not held for the renamer
    assert await chat.identity.connect(C, first.token) is None  # the old token is void


async def test_a_rename_keeps_the_name_while_another_tab_has_it(parts: Parts) -> None:
    chat = parts.chat
    await chat.identity.connect(A)
    first = await chat.identity.join(A, "alice")
    await chat.identity.connect(B, first.token)  # alice's second tab
    await chat.identity.join(A, "alicia")
    assert await parts.storage.users.by_name("alice") == first.user
    await chat.identity.connect(C)
    assert who(await chat.identity.join(C, "alice")).guest


async def test_a_direct_message_with_a_removed_account_stays_with_the_other(
    parts: Parts,
) -> None:
    chat = parts.chat
    for conn in (A, B):
        await chat.identity.connect(conn)
    await chat.identity.join(A, "alice")
    await chat.identity.join(B, "bob")
    dm = await chat.rooms.open_dm(A, "bob")
    await chat.messages.post(A, dm.room.name, "hi bob")
    await chat.identity.join(A, "alicia")  # alice's account goes
    rooms = (await chat.identity.session(B)).rooms
    kept = next(r for r in rooms if r.room.kind is RoomKind.DM)
    assert (kept.room.name, kept.peer) == (dm.room.name, None)
    history, _ = await chat.messages.history(B, dm.room.name, 10)
    assert [m.text for m in history] == ["hi bob"]


async def test_joining_under_ones_own_name_changes_nothing_but_a_guest_may_claim_it(
    parts: Parts,
) -> None:
    chat, clock = parts.chat, parts.clock
    for conn in (A, B):
        await chat.identity.connect(conn)
    owner = who(await chat.identity.join(A, "alice"))
    for wanted in (None, True, False):  # the account never turns itself into a guest
        assert who(await chat.identity.join(A, "ALICE", guest=wanted)) == owner
    guest = who(await chat.identity.join(B, "alice"))
    assert who(await chat.identity.join(B, "alice", guest=True)) == guest
    assert await refused(chat.identity.join(B, "alice", guest=False)) is ErrorCode.USERNAME_TAKEN
    await chat.identity.disconnect(A)
    clock.advance(31)  # the grace ran out: the guest may now take the name as an account
    claimed = who(await chat.identity.join(B, "alice", guest=False))
    assert not claimed.guest
    assert claimed.id != owner.id


async def test_a_guest_changes_its_own_messages_while_its_connection_lasts(parts: Parts) -> None:
    chat = parts.chat
    for conn in (A, B, C):
        await chat.identity.connect(conn)
    await chat.identity.join(A, "alice")
    await chat.identity.join(B, "Alice")  # a guest under the account's name
    owners = await chat.messages.post(A, None, "the account's")
    guests = await chat.messages.post(B, None, "the guest's")
    assert (await chat.changes.edit(B, None, guests.id, "edited", None)).text == "edited"
    parts.clock.advance(5)  # the message rate limit (changes count as messages) refills
    assert (await chat.changes.react(B, None, owners.id, "👍", None)).reactions[0].count == 1
    # The same name is not the same author: each keeps to its own messages.
    assert await refused(chat.changes.edit(B, None, owners.id, "x", None)) is ErrorCode.NOT_AUTHOR
    assert await refused(chat.changes.delete(A, None, guests.id, None)) is ErrorCode.NOT_AUTHOR
    # A guest is its connection: another connection under the name is someone else.
    await chat.identity.disconnect(B)
    await chat.identity.join(C, "Alice")
    assert await refused(chat.changes.delete(C, None, guests.id, None)) is ErrorCode.NOT_AUTHOR
    assert (await chat.changes.delete(A, None, owners.id, None)).deleted
