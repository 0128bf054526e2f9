"""WebSocket framing with no sockets: frames built once, client frames parsed."""

from __future__ import annotations

import struct

import pytest

from rtchat.engine import websocket as ws
from tests.engine.wire import masked


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


@pytest.mark.parametrize("opcode", [0x3, 0x4, 0x5, 0x6, 0x7, 0xB, 0xC, 0xD, 0xE, 0xF])
def test_reserved_opcodes_fail_the_connection(opcode: int) -> None:
    with pytest.raises(ws.WsError) as error:
        ws.WsParser(max_size=100).feed(masked(opcode, b""))
    assert error.value.code == ws.PROTOCOL_ERROR


@pytest.mark.parametrize("bits", [0x40, 0x20, 0x10])
def test_reserved_bits_fail_the_connection(bits: int) -> None:
    frame = bytearray(masked(ws.TEXT, b"4x"))
    frame[0] |= bits
    with pytest.raises(ws.WsError) as error:
        ws.WsParser(max_size=100).feed(bytes(frame))
    assert error.value.code == ws.PROTOCOL_ERROR


@pytest.mark.parametrize("code", [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535])
def test_close_codes_that_may_not_be_sent_are_protocol_errors(code: int) -> None:
    with pytest.raises(ws.WsError) as error:
        ws.WsParser(max_size=100).feed(masked(ws.CLOSE, struct.pack("!H", code)))
    assert error.value.code == ws.PROTOCOL_ERROR


def test_close_frames_received() -> None:
    parser = ws.WsParser(max_size=100)
    assert parser.feed(masked(ws.CLOSE, b"")) == [(ws.CLOSE, b"")]
    assert ws.close_code(b"") is None
    payload = struct.pack("!H", 3000) + "bye ✓".encode()
    assert parser.feed(masked(ws.CLOSE, payload)) == [(ws.CLOSE, payload)]
    assert ws.close_code(payload) == 3000
    with pytest.raises(ws.WsError) as one_byte:
        ws.WsParser(max_size=100).feed(masked(ws.CLOSE, b"\x03"))
    assert one_byte.value.code == ws.PROTOCOL_ERROR
    with pytest.raises(ws.WsError) as not_utf8:
        ws.WsParser(max_size=100).feed(masked(ws.CLOSE, struct.pack("!H", 1000) + b"\xff"))
    assert not_utf8.value.code == ws.INVALID_DATA


@pytest.mark.parametrize("code", [1005, 1006, 1015, 0, 2000])
def test_close_codes_for_local_use_are_never_sent(code: int) -> None:
    assert ws.close_frame(code, "why") == b"\x88\x00"


def test_close_reason_is_cut_at_a_character_boundary() -> None:
    frame = ws.close_frame(ws.POLICY, "é" * 100)
    assert frame[1] == 2 + 122  # 61 two-byte characters fit in 123 bytes
    assert frame[4:].decode() == "é" * 61
