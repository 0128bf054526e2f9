"""WebSocket framing (RFC 6455) for the server side, no I/O.

Outgoing frames are built here: header bytes + payload, unmasked, so a broadcast builds
its frame once and every recipient gets the same bytes. Incoming frames are parsed by a
small hand parser over one bytearray per connection instead of websockets' generator-based
reader: the server needs only FIN, opcode, length and mask (we negotiate no extensions),
and a parser object with four slots keeps an idle connection's state small, where the
generator reader needs a suspended generator and a stream object per connection. The
masking itself is websockets' C `apply_mask`, and the handshake key its `accept_key`.
"""

from __future__ import annotations

import struct

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension
    from websockets.utils import apply_mask
from websockets.utils import accept_key

__all__ = ["WsError", "WsParser", "accept_key", "close_code", "close_frame", "frame"]

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

# Close codes.
NORMAL, GOING_AWAY, PROTOCOL_ERROR, INVALID_DATA, POLICY, TOO_BIG = (
    1000,
    1001,
    1002,
    1007,
    1008,
    1009,
)
# What a close frame may carry (RFC 6455 7.4, and the IANA registry for 1012-1014); 1005,
# 1006 and 1015 only describe a closure locally and never go on the wire.
_WIRE_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015), *range(3000, 5000)))
MAX_CLOSE_REASON = 123  # bytes: a control frame's 125, less the code


class WsError(Exception):
    """The peer broke the protocol; close the connection with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, unmasked frame."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


def text_frame(text: str) -> bytes:
    return frame(TEXT, text.encode())


def close_frame(code: int = NORMAL, reason: str = "") -> bytes:
    """A close frame; a code that may not be sent gives one with no code (the peer sees
    1005), and the reason is cut to what fits, at a character boundary."""
    if code not in _WIRE_CLOSE_CODES:
        return frame(CLOSE, b"")
    encoded = reason.encode()
    if len(encoded) > MAX_CLOSE_REASON:
        encoded = encoded[:MAX_CLOSE_REASON].decode("utf-8", "ignore").encode()
    return frame(CLOSE, struct.pack("!H", code) + encoded)


def close_code(payload: bytes) -> int | None:
    """The code of a received close frame that `WsParser` let through; None if it has none."""
    return int.from_bytes(payload[:2]) if payload else None


class WsParser:
    """Turns received bytes into messages: `(TEXT, str)`, `(BINARY, bytes)`, and control
    frames `(PING | PONG | CLOSE, bytes)`."""

    __slots__ = ("_buf", "_frag", "_frag_op", "max_size")

    def __init__(self, max_size: int) -> None:
        # What is left of a frame cut between reads; None (no buffer) between whole frames,
        # which is how an idle connection sits.
        self._buf: bytearray | None = None
        self._frag: bytearray | None = None
        self._frag_op = 0
        self.max_size = max_size

    def feed(self, data: bytes) -> list[tuple[int, str | bytes]]:
        out: list[tuple[int, str | bytes]] = []
        buf = self._buf
        if buf is None:
            buf = self._buf = bytearray(data)
        else:
            buf += data
        self._frames(buf, out)
        if not buf:
            self._buf = None
        return out

    def _frames(self, buf: bytearray, out: list[tuple[int, str | bytes]]) -> None:
        while True:
            size = len(buf)
            if size < 2:
                break
            b0, b1 = buf[0], buf[1]
            if b0 & 0x70:
                raise WsError(PROTOCOL_ERROR, "reserved bits set")
            if not b1 & 0x80:
                raise WsError(PROTOCOL_ERROR, "client frames must be masked")
            n = b1 & 0x7F
            head = 2
            if n == 126:
                if size < 4:
                    break
                n = int.from_bytes(buf[2:4])
                head = 4
            elif n == 127:
                if size < 10:
                    break
                n = int.from_bytes(buf[2:10])
                head = 10
            if n > self.max_size:
                raise WsError(TOO_BIG, "message too big")
            if size < head + 4 + n:
                break
            mask = bytes(buf[head : head + 4])
            payload = apply_mask(buf[head + 4 : head + 4 + n], mask)
            del buf[: head + 4 + n]
            self._frame(b0 & 0x80, b0 & 0x0F, payload, out)

    def _frame(
        self, fin: int, opcode: int, payload: bytes, out: list[tuple[int, str | bytes]]
    ) -> None:
        if opcode >= CLOSE:
            if opcode > PONG:
                raise WsError(PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
            if not fin or len(payload) > 125:
                raise WsError(PROTOCOL_ERROR, "bad control frame")
            if opcode == CLOSE:
                _check_close(payload)
            out.append((opcode, payload))
            return
        if opcode == CONT:
            if self._frag is None:
                raise WsError(PROTOCOL_ERROR, "continuation without a start")
            self._frag += payload
            if len(self._frag) > self.max_size:
                raise WsError(TOO_BIG, "message too big")
            if not fin:
                return
            payload, opcode = bytes(self._frag), self._frag_op
            self._frag = None
        elif opcode in (TEXT, BINARY):
            if self._frag is not None:
                raise WsError(PROTOCOL_ERROR, "new message inside a fragmented one")
            if not fin:
                self._frag, self._frag_op = bytearray(payload), opcode
                return
        else:
            raise WsError(PROTOCOL_ERROR, f"reserved opcode {opcode:#x}")
        if opcode == TEXT:
            try:
                out.append((TEXT, payload.decode()))
            except UnicodeDecodeError:
                raise WsError(INVALID_DATA, "text is not UTF-8") from None
        else:
            out.append((BINARY, payload))


def _check_close(payload: bytes) -> None:
    if not payload:
        return
    if len(payload) == 1 or int.from_bytes(payload[:2]) not in _WIRE_CLOSE_CODES:
        raise WsError(PROTOCOL_ERROR, "bad close code")
    try:
        payload[2:].decode()
    except UnicodeDecodeError:
        raise WsError(INVALID_DATA, "close reason is not UTF-8") from None
