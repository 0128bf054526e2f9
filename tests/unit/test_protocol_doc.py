from __future__ import annotations

from pathlib import Path

from rtchat import service
from rtchat.domain import rules
from rtchat.domain.errors import ErrorCode
from rtchat.domain.typing_state import TypingTracker
from rtchat.engine import EngineOptions
from rtchat.protocol_doc import render
from rtchat.service.limits import Limits
from rtchat.settings import Settings
from rtchat.transport import ws_protocol
from rtchat.transport.events import CLIENT_EVENTS, SERVER_EVENTS

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"


def test_protocol_doc_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/protocol.md is stale: run `.venv/bin/rtchat protocol --output docs/protocol.md`"
    )


def test_every_event_and_code_is_documented() -> None:
    text = render()
    for spec in CLIENT_EVENTS + SERVER_EVENTS:
        assert f"### `{spec.name}`" in text
    for code in ErrorCode:
        assert f"`{code}`" in text
    for spec in CLIENT_EVENTS:
        for code in spec.errors:
            assert code in set(ErrorCode)


def test_limits_are_the_ones_the_code_enforces() -> None:
    # The text is formatted from these constants; this names each where a reader finds it.
    text = render()
    defaults = Settings()
    typing = TypingTracker()
    quoted = [
        f"usernames {rules.MAX_USERNAME_LENGTH} characters",
        f"messages {rules.MAX_MESSAGE_LENGTH} characters",
        f"`{{username, guest?}}`: 1-{rules.MAX_USERNAME_LENGTH} characters",
        f"text 1-{rules.MAX_MESSAGE_LENGTH} characters",
        f"`clientId` an optional string of 1-{rules.MAX_CLIENT_ID_LENGTH}",
        f"name 1-{rules.MAX_ROOM_NAME_LENGTH} of a-z",
        f"topic up to {rules.MAX_TOPIC_LENGTH}",
        f"`online` lists at most {service.ONLINE_LIST_LIMIT} users",
        f"get the last {service.HISTORY_PAGE} messages and the first "
        f"{service.MEMBERS_LISTED} members by name",
        f"Up to {service.ONLINE_LIST_LIMIT} of the room's members who are online",
        f"those among its first {service.ONLINE_SCAN} members",
        f"`limit` 1-{service.MAX_HISTORY_PAGE} ({service.HISTORY_PAGE})",
        f"up to {service.MAX_SYNC_ROOMS} rooms",
        f"up to {service.SYNC_PAGE} entries per room and {service.SYNC_BUDGET} in all",
        f"({Limits().edit_window:g} by default; 0: always)",
        f"within {typing.ttl:g} seconds",
        f"{defaults.rate_limit:g} messages a second per user (all their connections, on "
        f"every node) with bursts of {defaults.rate_burst:g}",
        f"({defaults.max_payload_bytes:,} bytes by default)",
        f"{defaults.joins_per_minute:g} joins a minute from one address",
        f"{defaults.rooms_per_hour:g} new rooms an hour per account and "
        f"{defaults.rooms_per_hour_per_address:g} per address",
        f"`limit` 1-{service.MAX_ROOMS_PAGE} ({service.ROOMS_PAGE})",
        f"Without a payload, the first {service.ROOMS_PAGE}",
        f"({defaults.name_grace:g} by default)",
        f"({defaults.account_retention_days:g} by default)",
    ]
    assert [phrase for phrase in quoted if phrase not in text] == []
    assert typing.refresh == 1
    assert "at most once a second per user and room" in text


def test_the_ws_section_names_every_op_push_and_close_code() -> None:
    text = render()
    section = text[text.index("## Plain WebSocket: `/ws`") : text.index("## Error codes")]
    ops = next(line for line in section.splitlines() if line.startswith("- ops: "))
    assert ops == "- ops: " + ", ".join(f"`{spec.name}`" for spec in CLIENT_EVENTS)
    pushes = next(line for line in section.splitlines() if line.startswith("- pushes: "))
    listed = pushes.removeprefix("- pushes: ").split(" (")[0]
    assert listed == ", ".join(f"`{s.name}`" for s in SERVER_EVENTS if s.name != "error")
    assert "#### `hello`" in section
    for close in ws_protocol.CLOSE_CODES:
        assert f"| {close.code} | {close.meaning} |" in section
    assert {close.code for close in ws_protocol.CLOSE_CODES} >= {1001, 1009, 4001, 4008, 4029}
    for frame, answer in ws_protocol.BAD_FRAMES:
        assert f"| {frame} | {answer} |" in section
    engine = EngineOptions()
    assert f"pings every {engine.ping_interval:g} seconds" in section
    assert f"takes more than {engine.ping_timeout:g}" in section
    assert f"no hello came within {ws_protocol.HELLO_TIMEOUT:g} seconds" in section
    assert f"subprotocol `{ws_protocol.SUBPROTOCOL}`" in section
