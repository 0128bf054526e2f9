"""The `/ws` push is the one encoding of an event, rewrapped: whatever the payload holds
(quotes, `",`, brackets, any text), the frame carries exactly `{event, data}`."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from rtchat.engine.websocket import TEXT, WsParser, apply_mask
from rtchat.transport.events import SERVER_EVENTS
from rtchat.transport.ws_server import push_frame

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _as_client_sent(frame: bytes) -> bytes:
    """The server's frame, masked as a client's, for the server's own parser to read back."""
    mask = b"\x01\x02\x03\x04"
    n = frame[1] & 0x7F
    head = 2 + (2 if n == 126 else 8 if n == 127 else 0)
    return (
        bytes([frame[0], frame[1] | 0x80]) + frame[2:head] + mask + apply_mask(frame[head:], mask)
    )


@given(st.sampled_from([spec.name for spec in SERVER_EVENTS]), json_values)
def test_a_push_carries_the_event_and_its_payload(name: str, payload: Any) -> None:
    frame = push_frame(orjson.dumps([name, payload]))
    [(opcode, text)] = WsParser(1 << 20).feed(_as_client_sent(frame))
    assert opcode == TEXT
    assert isinstance(text, str)
    assert orjson.loads(text) == {"event": name, "data": payload}
    assert text.startswith('{"event":')
