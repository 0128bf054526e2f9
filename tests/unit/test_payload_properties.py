"""Property tests for the chat's payloads: whatever JSON a client sends with any event, the
handlers (transport/socketio_server.py's field parsing, then the service's rules, then
SQLite) answer it or refuse it with a ChatError code, never `internal`; and every event
the codec encodes reaches a client as the same JSON. Derandomized: the same examples
every run."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtchat.clock import SystemClock
from rtchat.domain import events as domain
from rtchat.domain.models import Message, Room, RoomKind, RoomSummary, User
from rtchat.engine import SocketServer, packets
from rtchat.service import Limits
from rtchat.storage import open_storage
from rtchat.transport import codec, events
from rtchat.transport.delivery import Deliveries
from rtchat.transport.operations import Operations
from rtchat.transport.socketio_server import ChatHandlers, SocketIODelivery
from tests.fakes import single_node_chat

FAST = settings(max_examples=300, derandomize=True, deadline=None, database=None)
# The chat fixture (its loop and its SQLite file) serves every example of a test.
WITH_CHAT = settings(FAST, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Numbers at the edges of what JSON, JavaScript and storage hold.
EDGE_NUMBERS = st.sampled_from(
    [0, 1, -1, 2**31, 2**53, 2**63 - 1, 2**63, 2**64 - 1, -(2**63), 1.5, 1e300, -0.0]
)
scalars = (
    st.none()
    | st.booleans()
    | EDGE_NUMBERS
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | st.sampled_from(["general", "dm:a:b", "__proto__", "constructor", " ", "GENERAL", "é" * 40])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
FIELDS = ["room", "text", "clientId", "before", "limit", "rooms", "name", "topic", "username"]
payload_objects = st.dictionaries(
    st.sampled_from([*FIELDS, "isTyping", "x"]),
    json_values | st.dictionaries(st.text(max_size=8), scalars, max_size=3),
    max_size=5,
)
EVENT_NAMES = [
    events.USER_JOINED,
    events.SESSION,
    events.SEND_MESSAGE,
    events.TYPING,
    events.LIST_ROOMS,
    events.CREATE_ROOM,
    events.JOIN_ROOM,
    events.LEAVE_ROOM,
    events.OPEN_DM,
    events.HISTORY,
    events.SYNC,
    events.LIST_ONLINE,
    "no-such-event",
]


class Chat:
    """The chat's handlers on a SocketServer that serves nothing, over SQLite: a handler
    is called as the engine calls it."""

    def __init__(self, runner: asyncio.Runner, database: Path) -> None:
        self.runner = runner
        self.storage = runner.run(open_storage(f"sqlite:///{database}"))
        self.sio = SocketServer()
        clock = SystemClock()
        chat = single_node_chat(
            self.storage,
            Deliveries(SocketIODelivery(self.sio)),
            clock,
            Limits(send_rate=0, send_burst=1),
        )
        runner.run(chat.start(self.storage))
        ChatHandlers(self.sio, Operations(chat, clock, event_rate=0, event_burst=1))
        namespace = self.sio._namespaces["/"]  # the handlers as registered with the engine
        assert namespace.on_connect is not None
        assert namespace.on_event is not None
        self.dispatch = namespace.on_event
        runner.run(namespace.on_connect("prop-sid", None))
        joined = self.call(events.USER_JOINED, ["prop"])
        assert joined["ok"], joined

    def call(self, event: str, args: list[Any]) -> Any:
        return self.runner.run(self.dispatch("prop-sid", event, args, True))


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    with asyncio.Runner() as runner:
        made = Chat(runner, tmp_path / "chat.db")
        try:
            yield made
        finally:
            runner.run(made.storage.close())


@WITH_CHAT
@given(
    st.sampled_from(EVENT_NAMES),
    st.lists(payload_objects | json_values, max_size=3),
)
def test_any_payload_is_answered_or_refused_never_internal(
    chat: Chat, event: str, args: list[Any]
) -> None:
    answer = chat.call(event, args)
    if not answer["ok"]:
        assert answer["error"]["code"] != "internal", (event, args, answer)
        assert answer["error"]["message"]
    orjson.dumps(answer)  # what goes back is JSON


@WITH_CHAT
@given(st.sampled_from([events.HISTORY, events.SYNC]), EDGE_NUMBERS)
def test_sequence_numbers_past_storage_are_invalid_payload(
    chat: Chat, event: str, seq: Any
) -> None:
    payload = (
        {"room": "general", "before": seq}
        if event == events.HISTORY
        else {"rooms": {"general": seq}}
    )
    answer = chat.call(event, [payload])
    valid = type(seq) is int and 0 <= seq < 2**63
    assert answer["ok"] is valid or answer["error"]["code"] == "invalid_payload", answer


# --- the codec, encoded as the engine sends it -------------------------------------------

names = st.text(min_size=1, max_size=32)
users = st.builds(User, id=st.text(min_size=1, max_size=32), username=names)
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)
messages = st.builds(
    Message,
    id=st.text(min_size=1, max_size=32),
    room=names,
    seq=st.integers(1, 2**63 - 1),
    author=users,
    text=st.text(min_size=1, max_size=200),
    timestamp=moments,
    client_id=st.none() | st.text(min_size=1, max_size=64),
)
summaries = st.builds(
    RoomSummary,
    room=st.builds(Room, name=names, kind=st.sampled_from(RoomKind), topic=st.text(max_size=50)),
    member_count=st.integers(0, 10**6),
    last_seq=st.integers(0, 2**63 - 1),
    peer=st.none() | users,
)
server_events = st.one_of(
    st.builds(domain.MessagePosted, messages),
    st.builds(domain.UserTyping, users, names, st.booleans()),
    st.builds(domain.UserConnected, users, moments),
    st.builds(domain.UserDisconnected, users, moments),
    st.builds(domain.MemberJoined, names, users),
    st.builds(domain.MemberLeft, names, users),
    st.builds(domain.RoomCreated, summaries),
    st.builds(domain.RoomAdded, summaries),
)


@FAST
@given(server_events)
def test_every_event_reaches_the_client_as_the_payload_encoded(event: domain.ServerEvent) -> None:
    name, payload = codec.encode(event)
    text = packets.event_text(name, (payload,))
    received = packets.decode(text[1:])
    assert received.type == packets.EVENT
    assert received.data == [name, orjson.loads(orjson.dumps(payload))]


@FAST
@given(messages)
def test_a_message_keeps_its_seed_fields_through_the_wire(message: Message) -> None:
    _, payload = codec.encode(domain.MessagePosted(message))
    (_, received) = packets.decode(packets.event_text("m", (payload,))[1:]).data
    assert received["message"] == message.text
    assert received["username"] == message.author.username
    assert received["seq"] == message.seq
    sent_at = datetime.strptime(received["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert timedelta(0) <= message.timestamp - sent_at < timedelta(milliseconds=1)
