from __future__ import annotations

from datetime import UTC, datetime

from rtchat.domain.events import MessagePosted, RoomCreated, UserConnected, UserTyping
from rtchat.domain.models import Message, Room, RoomKind, RoomSummary, User
from rtchat.transport import codec

ALICE = User(id="u1", username="alice")
WHEN = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


def test_timestamps_match_javascript_to_iso_string() -> None:
    assert codec.iso_timestamp(WHEN) == "2026-01-02T03:04:05.678Z"


def test_receive_message_keeps_the_seed_fields() -> None:
    message = Message(
        id="m1", room="general", seq=7, author=ALICE, text="hi", timestamp=WHEN, client_id="c1"
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
        "userId": "u1",
        "timestamp": "2026-01-02T03:04:05.678Z",
    }


def test_seed_events_names_and_fields() -> None:
    assert codec.encode(UserConnected(ALICE, WHEN)) == (
        "user-connected",
        {"userId": "u1", "username": "alice", "timestamp": "2026-01-02T03:04:05.678Z"},
    )
    name, payload = codec.encode(UserTyping(ALICE, "general", True))
    assert name == "user-typing"
    assert payload["username"] == "alice"
    assert payload["isTyping"] is True
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
