"""WebSocket framing with no sockets: frames built once, client frames parsed."""

from __future__ import annotations

import os
import struct

import pytest

from rtchat.engine import websocket as ws


def masked(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    mask = os.urandom(4)
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


@pytest.mark.parametrize(("size", "header"), [(5, 2), (200, 4), (70_000, 10)])
def test_outgoing_frames_are_unmasked_with_the_right_length(size: int, header: int) -> None:
    frame = ws.frame(ws.TEXT, b"x" * size)
    assert frame[0] == 0x81
    assert not frame[1] & 0x80
    assert len(frame) == header + size


def test_parser_reads_split_and_joined_frames() -> None:
    parser = ws.WsParser(max_size=100_000)
    data = masked(ws.TEXT, b"4hello") + masked(ws.BINARY, b"\x01\x02") + masked(ws.TEXT, b"x" * 300)
    out = []
    for i in range(0, len(data), 7):
        out += parser.feed(data[i : i + 7])
    assert out == [(ws.TEXT, "4hello"), (ws.BINARY, b"\x01\x02"), (ws.TEXT, "x" * 300)]


def test_fragmented_message_with_a_ping_between() -> None:
    parser = ws.WsParser(max_size=100)
    data = (
        masked(ws.TEXT, b"4he", fin=False)
        + masked(ws.PING, b"p")
        + masked(ws.CONT, b"llo", fin=True)
    )
    assert parser.feed(data) == [(ws.PING, b"p"), (ws.TEXT, "4hello")]


def test_too_big_and_unmasked_frames_are_errors() -> None:
    with pytest.raises(ws.WsError) as big:
        ws.WsParser(max_size=10).feed(masked(ws.TEXT, b"x" * 11))
    assert big.value.code == ws.TOO_BIG
    with pytest.raises(ws.WsError) as unmasked:
        ws.WsParser(max_size=10).feed(ws.frame(ws.TEXT, b"x"))
    assert unmasked.value.code == ws.PROTOCOL_ERROR
    with pytest.raises(ws.WsError):
        ws.WsParser(max_size=10).feed(masked(ws.TEXT, b"\xff"))


def test_accept_key_from_rfc_6455() -> None:
    assert ws.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
