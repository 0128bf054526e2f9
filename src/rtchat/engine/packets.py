"""Engine.IO v4 and Socket.IO v5 packets: encoding and decoding, no I/O.

An Engine.IO packet is kept as a `str` (its type digit first, e.g. ``"4hello"``) or, for a
binary message, as `bytes` (a binary message has no type byte on WebSocket and is
``"b" + base64`` inside a long-polling payload). A Socket.IO packet rides inside an
Engine.IO message: ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]``.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

# Engine.IO packet types.
OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = "0", "1", "2", "3", "4", "5", "6"
SEPARATOR = "\x1e"  # between packets of a long-polling payload

# Socket.IO packet types.
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)

EioPacket = str | bytes

# Bounds on the numbers a packet carries, so that no packet makes the parser build a huge
# integer (`int()` refuses more than 4,300 digits, with a ValueError) or keep unbounded state.
MAX_ACK_ID = 2**53 - 1  # the largest integer a JavaScript client counts to exactly
MAX_ATTACHMENTS = 256  # binary attachments announced by one packet
MAX_NESTING = 128  # levels of lists and objects searched for binary placeholders
_MAX_ACK_DIGITS = len(str(MAX_ACK_ID))
_MAX_ATTACHMENT_DIGITS = len(str(MAX_ATTACHMENTS))


class PacketError(ValueError):
    """Bytes or text that are not a valid packet; the session that sent them is closed."""


# --- Engine.IO -----------------------------------------------------------------------------


def decode_payload(body: str) -> list[EioPacket]:
    """Split a long-polling payload into Engine.IO packets."""
    packets: list[EioPacket] = []
    for part in body.split(SEPARATOR):
        if not part:
            raise PacketError("empty packet in payload")
        kind = part[0]
        if kind == "b":
            # b64decode refuses non-ASCII text with a ValueError that is no binascii.Error.
            if not part.isascii():
                raise PacketError("bad base64 in binary packet")
            try:
                packets.append(base64.b64decode(part[1:], validate=True))
            except binascii.Error:
                raise PacketError("bad base64 in binary packet") from None
        elif "0" <= kind <= "6":
            packets.append(part)
        else:
            raise PacketError(f"unknown packet type {kind!r}")
    return packets


def encode_payload(packets: list[EioPacket]) -> bytes:
    """Join Engine.IO packets into one long-polling payload."""
    return SEPARATOR.join(
        p if isinstance(p, str) else "b" + base64.b64encode(p).decode() for p in packets
    ).encode()


# --- Socket.IO -----------------------------------------------------------------------------


@dataclass(slots=True)
class SioPacket:
    type: int
    namespace: str = "/"
    data: Any = None
    id: int | None = None
    attachments: int = 0


def decode(text: str) -> SioPacket:
    """Decode the text of a Socket.IO packet (an Engine.IO message without its "4")."""
    if not text or not "0" <= text[0] <= "6":
        raise PacketError("not a Socket.IO packet")
    kind = ord(text[0]) - 48
    end = len(text)
    i = 1
    attachments = 0
    if kind in (BINARY_EVENT, BINARY_ACK):
        dash = _digits_end(text, i, _MAX_ATTACHMENT_DIGITS)
        if dash == i or dash >= end or text[dash] != "-":
            raise PacketError("binary packet without an attachment count")
        attachments = int(text[i:dash])
        if attachments > MAX_ATTACHMENTS:
            raise PacketError(f"more than {MAX_ATTACHMENTS} attachments")
        i = dash + 1
    namespace = "/"
    if i < end and text[i] == "/":
        comma = text.find(",", i)
        if comma < 0:
            namespace, i = text[i:], end
        else:
            namespace, i = text[i:comma], comma + 1
    start = i
    i = _digits_end(text, i, _MAX_ACK_DIGITS)
    ack_id = int(text[start:i]) if i > start else None
    if ack_id is not None and ack_id > MAX_ACK_ID:
        raise PacketError("ack id too large")
    data: Any = None
    if i < end:
        try:
            data = orjson.loads(text[i:])
        except orjson.JSONDecodeError:
            raise PacketError("bad JSON") from None
    packet = SioPacket(kind, namespace, data, ack_id, attachments)
    _check(packet)
    return packet


def _digits_end(text: str, start: int, most: int) -> int:
    """Where the ASCII digits from `start` end; more than `most` of them is an error.
    (`str.isdigit` also accepts '²' and other digits that `int()` refuses or reads.)"""
    i, end = start, len(text)
    while i < end and "0" <= text[i] <= "9":
        i += 1
        if i - start > most:
            raise PacketError("number too long")
    return i


def _check(packet: SioPacket) -> None:
    kind, data = packet.type, packet.data
    if kind == CONNECT:
        ok = data is None or isinstance(data, dict)
    elif kind == DISCONNECT:
        ok = data is None
    elif kind in (EVENT, BINARY_EVENT):
        # The event name: a string or a number, as socket.io-parser allows (JSON true is no
        # number, though Python's bool is an int).
        ok = (
            isinstance(data, list)
            and bool(data)
            and isinstance(data[0], str | int | float)
            and not isinstance(data[0], bool)
        )
    elif kind in (ACK, BINARY_ACK):
        ok = isinstance(data, list) and packet.id is not None
    else:  # CONNECT_ERROR is for clients only
        ok = False
    if not ok:
        raise PacketError(f"invalid payload for packet type {kind}")


def encode(packet: SioPacket) -> list[EioPacket]:
    """The Engine.IO packets of one Socket.IO packet: its text, then any binary attachments."""
    attachments: list[bytes] = []
    data = _deconstruct(packet.data, attachments) if packet.data is not None else None
    kind = packet.type
    head = str(kind)
    if attachments:
        kind = BINARY_ACK if kind in (ACK, BINARY_ACK) else BINARY_EVENT
        head = f"{kind}{len(attachments)}-"
    if packet.namespace != "/":
        head += packet.namespace + ","
    if packet.id is not None:
        head += str(packet.id)
    text = MESSAGE + head
    if data is not None:
        text += orjson.dumps(data).decode()
    return [text, *attachments]


def event_text(event: str, args: tuple[Any, ...] | list[Any], namespace: str = "/") -> str:
    """The Engine.IO message of a Socket.IO EVENT without binary data (the broadcast path)."""
    body = orjson.dumps([event, *args]).decode()
    return "42" + body if namespace == "/" else "42" + namespace + "," + body


def has_binary(value: Any) -> bool:
    if isinstance(value, bytes | bytearray | memoryview):
        return True
    if isinstance(value, list | tuple):
        return any(has_binary(v) for v in value)
    if isinstance(value, dict):
        return any(has_binary(v) for v in value.values())
    return False


def _deconstruct(value: Any, attachments: list[bytes]) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        attachments.append(bytes(value))
        return {"_placeholder": True, "num": len(attachments) - 1}
    if isinstance(value, list | tuple):
        return [_deconstruct(v, attachments) for v in value]
    if isinstance(value, dict):
        return {k: _deconstruct(v, attachments) for k, v in value.items()}
    return value


def reconstruct(value: Any, attachments: list[bytes], depth: int = 0) -> Any:
    """Put binary attachments back where their placeholders are."""
    if depth > MAX_NESTING:
        raise PacketError(f"binary packet nested more than {MAX_NESTING} levels deep")
    if isinstance(value, dict):
        num = value.get("num")
        if value.get("_placeholder") is True and type(num) is int:
            if not 0 <= num < len(attachments):
                raise PacketError("placeholder without an attachment")
            return attachments[num]
        return {k: reconstruct(v, attachments, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [reconstruct(v, attachments, depth + 1) for v in value]
    return value
