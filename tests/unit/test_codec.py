from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from rtchat.domain.events import (
    MessageChanged,
    MessagePosted,
    ReadMarkerMoved,
    RoomCreated,
    UserConnected,
    UserDisconnected,
    UserTyping,
)
from rtchat.domain.models import (
    Change,
    ChangeKind,
    ConnectionId,
    Message,
    Quote,
    Reaction,
    ReadState,
    Room,
    RoomKind,
    RoomSummary,
    User,
)
from rtchat.transport import codec

ALICE = User(id="u1", username="alice")
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_timestamps_match_javascript_to_iso_string() -> None:
    assert codec.iso_timestamp(WHEN) == "2026-01-02T03:04:05.678Z"


SOCKET = ConnectionId("sock-1")


def test_receive_message_keeps_the_seed_fields() -> None:
    # `userId` is the seed's: the id of the socket it was sent from; the account is apart.
    message = Message(
        id="m1",
        room="general",
        seq=7,
        author=ALICE,
        text="hi",
        timestamp=WHEN,
        client_id="c1",
        sent_from=SOCKET,
    )
    name, payload = codec.encode(MessagePosted(message))
    assert name == "receive-message"
    assert payload == {
        "id": "m1",
        "room": "general",
        "seq": 7,
        "clientId": "c1",
        "username": "alice",
        "message": "hi",
        "userId": "sock-1",
        "accountId": "u1",
        "guest": False,
        "timestamp": "2026-01-02T03:04:05.678Z",
        "mentions": [],
        "replyTo": None,
        "editedAt": None,
        "deleted": False,
        "reactions": [],
    }


def test_mentions_room_counts_and_read_markers() -> None:
    bob = User(id="u2", username="bob")
    message = Message("m1", "general", 1, ALICE, "hi @bob", WHEN, mentions=(bob,))
    assert codec.message_payload(message)["mentions"] == [{"accountId": "u2", "username": "bob"}]
    summary = RoomSummary(Room("general"), member_count=2, last_seq=9)
    assert "unread" not in codec.room_payload(summary)  # not about one account's rooms
    counted = dataclasses.replace(summary, unread=3, mentions=1)
    assert codec.room_payload(counted) == {
        **codec.room_payload(summary),
        "unread": 3,
        "mentions": 1,
    }
    name, payload = codec.encode(ReadMarkerMoved(ReadState("general", 6, 3, 1)))
    assert (name, payload) == (
        "read-marker",
        {"room": "general", "seq": 6, "unread": 3, "mentions": 1},
    )


def test_a_message_carries_its_reply_edit_and_reactions() -> None:
    quote = Quote("m0", 3, User("u2", "bob"), "question", deleted=False)
    message = Message(
        id="m1",
        room="general",
        seq=7,
        author=ALICE,
        text="answer",
        timestamp=WHEN,
        reply_to=quote,
        edited_at=WHEN,
        reactions=(Reaction("👍", 3, ("bob", "carol")),),
    )
    payload = codec.message_payload(message)
    assert payload["replyTo"] == {
        "id": "m0",
        "seq": 3,
        "username": "bob",
        "message": "question",
        "deleted": False,
    }
    assert payload["editedAt"] == "2026-01-02T03:04:05.678Z"
    assert payload["reactions"] == [{"emoji": "👍", "count": 3, "usernames": ["bob", "carol"]}]


def test_each_change_is_its_own_event() -> None:
    def change(kind: ChangeKind, value: str = "", count: int = 0) -> Change:
        return Change("general", 9, "m1", ALICE, kind, WHEN, value, None, count)

    common = {
        "room": "general",
        "seq": 9,
        "id": "m1",
        "username": "alice",
        "accountId": "u1",
        "guest": False,
        "timestamp": "2026-01-02T03:04:05.678Z",
    }
    assert codec.encode(MessageChanged(change(ChangeKind.EDIT, "new"))) == (
        "message-edited",
        {**common, "message": "new", "editedAt": "2026-01-02T03:04:05.678Z"},
    )
    assert codec.encode(MessageChanged(change(ChangeKind.DELETE))) == ("message-deleted", common)
    assert codec.encode(MessageChanged(change(ChangeKind.UNREACT, "👍", 2))) == (
        "reaction-changed",
        {**common, "emoji": "👍", "on": False, "count": 2},
    )


def test_a_guest_and_a_message_from_before_connections_were_kept() -> None:
    guest = User(id="g1", username="alice", guest=True)
    message = Message(id="m1", room="general", seq=1, author=guest, text="hi", timestamp=WHEN)
    _, payload = codec.encode(MessagePosted(message))
    assert (payload["userId"], payload["accountId"], payload["guest"]) == (None, "g1", True)
    assert codec.user_payload(guest) == {"accountId": "g1", "username": "alice", "guest": True}


def test_seed_events_names_and_fields() -> None:
    assert codec.encode(UserConnected(ALICE, WHEN, SOCKET)) == (
        "user-connected",
        {
            "username": "alice",
            "userId": "sock-1",
            "accountId": "u1",
            "guest": False,
            "timestamp": "2026-01-02T03:04:05.678Z",
        },
    )
    # A user whose node crashed went with no connection anyone knows of.
    _, gone = codec.encode(UserDisconnected(ALICE, WHEN, None))
    assert (gone["userId"], gone["accountId"]) == (None, "u1")
    name, payload = codec.encode(UserTyping(ALICE, "general", True, SOCKET))
    assert name == "user-typing"
    assert payload == {
        "username": "alice",
        "isTyping": True,
        "userId": "sock-1",
        "accountId": "u1",
        "guest": False,
        "room": "general",
    }
    summary = RoomSummary(Room("dev", RoomKind.ROOM, "code"), member_count=2, last_seq=9)
    assert codec.encode(RoomCreated(summary)) == (
        "room-created",
        {
            "room": {
                "name": "dev",
                "kind": "room",
                "topic": "code",
                "memberCount": 2,
                "lastSeq": 9,
            }
        },
    )
