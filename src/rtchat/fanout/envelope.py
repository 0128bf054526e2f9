"""What crosses between nodes, as bytes. Pure.

Three kinds, each led by a one-letter tag and fields split by `|` (node ids, user ids and
connection ids never contain one; the settings and the id generators see to it):

    F|<origin>|<seq>|<exclude user>|<event>   an event for a room's members; seq 0: unnumbered
    U|<origin>|<skip connection>|<event>      an event for every connection of one user
    C|<origin>|<json>                         a command for the nodes that follow the channel

`<event>` is the event already encoded as the transport frames it (`["name", payload]`),
so the receiving node writes the same bytes to each local member without decoding them.
The origin lets a node drop its own publications, which Redis sends back to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

ROOM, USER, COMMAND = b"F", b"U", b"C"


class EnvelopeError(ValueError):
    """Bytes that are not an envelope (another program publishing on our channels)."""


@dataclass(frozen=True, slots=True)
class RoomFrame:
    origin: str
    seq: int
    exclude_user: str
    event: bytes


@dataclass(frozen=True, slots=True)
class UserFrame:
    origin: str
    skip: str
    event: bytes


@dataclass(frozen=True, slots=True)
class Command:
    origin: str
    body: dict[str, Any]


Envelope = RoomFrame | UserFrame | Command


def room_frame(origin: str, seq: int, exclude_user: str, event: bytes) -> bytes:
    return b"F|%s|%d|%s|%s" % (origin.encode(), seq, exclude_user.encode(), event)


def user_frame(origin: str, skip: str, event: bytes) -> bytes:
    return b"U|%s|%s|%s" % (origin.encode(), skip.encode(), event)


def command(origin: str, body: dict[str, Any]) -> bytes:
    return b"C|%s|%s" % (origin.encode(), orjson.dumps(body))


def origin_of(data: bytes) -> bytes:
    """The origin field alone: a node drops its own envelopes without parsing the rest."""
    end = data.find(b"|", 2)
    return data[2:end] if end > 0 else b""


def parse(data: bytes) -> Envelope:
    kind = data[:2]
    try:
        if kind == b"F|":
            origin, seq, exclude, event = data[2:].split(b"|", 3)
            if not seq.isdigit() or len(seq) > 19:
                raise EnvelopeError("bad sequence number")
            return RoomFrame(origin.decode(), int(seq), exclude.decode(), event)
        if kind == b"U|":
            origin, skip, event = data[2:].split(b"|", 2)
            return UserFrame(origin.decode(), skip.decode(), event)
        if kind == b"C|":
            origin, body = data[2:].split(b"|", 1)
            parsed = orjson.loads(body)
            if not isinstance(parsed, dict):
                raise EnvelopeError("a command is a JSON object")
            return Command(origin.decode(), parsed)
    except (ValueError, UnicodeDecodeError) as error:
        raise EnvelopeError(str(error)) from None
    raise EnvelopeError(f"unknown envelope kind {kind[:1]!r}")
