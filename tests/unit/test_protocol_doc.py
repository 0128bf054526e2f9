from __future__ import annotations

from pathlib import Path

from rtchat.domain.errors import ErrorCode
from rtchat.protocol_doc import render
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
