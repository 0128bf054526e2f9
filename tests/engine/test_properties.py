"""Property tests for every parser of the engine: whatever the bytes, decoding ends in a
value or in the parser's own protocol error, never in another exception; and what the
engine encodes decodes to what it was. Derandomized: the same examples every run."""

from __future__ import annotations

import contextlib
import struct
from typing import Any

import httptools
import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from rtchat.engine import packets
from rtchat.engine import websocket as ws
from rtchat.engine.http_parse import HttpError, RequestParser
from rtchat.engine.origins import OriginPolicy, same_origin
from rtchat.engine.packets import PacketError, SioPacket
from tests.engine.wire import masked

FAST = settings(max_examples=200, derandomize=True, deadline=None, database=None)

# Text that looks like packets: the characters packets are made of, and some that are not
# what they seem (non-ASCII digits, the record separator, a lone surrogate's neighbours).
PACKET_CHARS = st.sampled_from(
    [*'0123456789-/,[]{}":bt ', "\x1e", "\u00b2", "\u0661", "\uff11", "é", "\x00"]
)
packet_like = st.text(PACKET_CHARS, max_size=60) | st.text(max_size=60)


@st.composite
def huge_numbers(draw: st.DrawFn) -> str:
    """A valid packet with one of its numbers made long, or made of other digits."""
    digits = draw(st.sampled_from(["9" * 5000, "1" * 17, "\u00b2", "\u0661\u0662", "00"]))
    return draw(
        st.sampled_from(
            [
                f'2{digits}["x"]',
                f'2/ns,{digits}["x"]',
                f'5{digits}-["x",{{"_placeholder":true,"num":0}}]',
                f'6{digits}-/ns,1[{{"_placeholder":true,"num":0}}]',
                f'3{digits}["ok"]',
            ]
        )
    )


# JSON values as orjson reads and writes them, without the placeholder objects binary
# packets use.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=8).filter(lambda k: k != "_placeholder"), inner, max_size=4
        )
    ),
    max_leaves=12,
)
with_binary = st.recursive(
    json_scalars | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=8).filter(lambda k: k != "_placeholder"), inner, max_size=4
        )
    ),
    max_leaves=12,
)
namespaces = st.just("/") | st.text(
    st.characters(blacklist_characters=",", blacklist_categories=["Cs"]), max_size=10
).map(lambda name: "/" + name)


@FAST
@given(packet_like | huge_numbers())
def test_socketio_decode_gives_a_packet_or_a_packet_error(text: str) -> None:
    try:
        packet = packets.decode(text)
    except PacketError:
        return
    assert 0 <= packet.type <= 6
    assert packet.id is None or 0 <= packet.id <= packets.MAX_ACK_ID
    assert 0 <= packet.attachments <= packets.MAX_ATTACHMENTS


@FAST
@given(packet_like)
def test_polling_payload_decode_gives_packets_or_a_packet_error(body: str) -> None:
    try:
        decoded = packets.decode_payload(body)
    except PacketError:
        return
    assert all(isinstance(p, bytes) or p[0] in "0123456" for p in decoded)


eio_packets = st.lists(
    st.binary(max_size=30)
    | st.tuples(st.sampled_from("0123456"), st.text(max_size=30)).map(
        lambda kind_text: kind_text[0] + kind_text[1].replace("\x1e", "")
    ),
    min_size=1,
    max_size=8,
)


@FAST
@given(eio_packets)
def test_polling_payload_round_trip(sent: list[str | bytes]) -> None:
    assert packets.decode_payload(packets.encode_payload(sent).decode()) == sent


@st.composite
def sio_packets(draw: st.DrawFn) -> SioPacket:
    kind = draw(st.sampled_from([packets.CONNECT, packets.DISCONNECT, packets.EVENT, packets.ACK]))
    namespace = draw(namespaces)
    if kind == packets.CONNECT:
        data = draw(st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=3))
        return SioPacket(kind, namespace, data)
    if kind == packets.DISCONNECT:
        return SioPacket(kind, namespace)
    args = draw(st.lists(with_binary, max_size=3))
    ack_id = draw(st.none() | st.integers(0, packets.MAX_ACK_ID))
    if kind == packets.EVENT:
        return SioPacket(kind, namespace, [draw(st.text(max_size=10)), *args], ack_id)
    return SioPacket(kind, namespace, args, draw(st.integers(0, packets.MAX_ACK_ID)))


def _json_equal(a: Any, b: Any) -> bool:
    return orjson.dumps(a) == orjson.dumps(b)  # floats and ints compared as JSON writes them


@FAST
@given(sio_packets())
def test_socketio_round_trip_with_binary_attachments(sent: SioPacket) -> None:
    text, *attachments = packets.encode(sent)
    assert isinstance(text, str)
    assert text[0] == packets.MESSAGE
    got = packets.decode(text[1:])
    assert got.namespace == sent.namespace
    assert got.id == sent.id
    assert got.attachments == len(attachments)
    data = packets.reconstruct(got.data, [bytes(a) for a in attachments])
    if attachments:
        assert got.type in (packets.BINARY_EVENT, packets.BINARY_ACK)
        assert data == sent.data
    else:
        assert got.type == sent.type
        assert _json_equal(data, sent.data)


@FAST
@given(st.text(max_size=10), st.lists(json_values, max_size=3), namespaces)
def test_the_broadcast_encoding_is_what_encode_gives(
    event: str, args: list[Any], namespace: str
) -> None:
    (encoded,) = packets.encode(SioPacket(packets.EVENT, namespace, [event, *args]))
    assert packets.event_text(event, args, namespace) == encoded


# --- WebSocket frames --------------------------------------------------------------------


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


@FAST
@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_websocket_parser_gives_messages_or_a_ws_error(data: bytes, cuts: list[int]) -> None:
    parser = ws.WsParser(max_size=100)
    code = None
    try:
        for chunk in _chunks(data, cuts):
            for opcode, payload in parser.feed(chunk):
                assert opcode in (ws.TEXT, ws.BINARY, ws.CLOSE, ws.PING, ws.PONG)
                assert len(payload) <= 125 or opcode in (ws.TEXT, ws.BINARY)
    except ws.WsError as error:
        code = error.code
    assert code in (None, ws.PROTOCOL_ERROR, ws.INVALID_DATA, ws.TOO_BIG)


@st.composite
def frame_headers(draw: st.DrawFn) -> bytes:
    """Frames with every header field drawn: bits, opcode, mask bit, length forms."""
    first = draw(st.integers(0, 255))
    n = draw(st.integers(0, 300))
    form = draw(st.sampled_from(["short", "16", "64", "64-huge"]))
    masked_bit = draw(st.sampled_from([0x80, 0x80, 0]))
    if form == "short":
        head = bytes([first, masked_bit | min(n, 125)])
    elif form == "16":
        head = bytes([first, masked_bit | 126]) + struct.pack("!H", n)
    elif form == "64":
        head = bytes([first, masked_bit | 127]) + struct.pack("!Q", n)
    else:
        head = bytes([first, masked_bit | 127]) + struct.pack("!Q", 2**63 + n)
    return head + draw(st.binary(min_size=0, max_size=n + 4))


@FAST
@given(st.lists(frame_headers(), min_size=1, max_size=4))
def test_websocket_parser_refuses_bad_headers_with_a_ws_error(frames: list[bytes]) -> None:
    parser = ws.WsParser(max_size=200)
    try:
        for frame in frames:
            parser.feed(frame)
    except ws.WsError:
        pass


messages = st.lists(
    st.tuples(st.just(ws.TEXT), st.text(max_size=40))
    | st.tuples(st.just(ws.BINARY), st.binary(max_size=40)),
    min_size=1,
    max_size=5,
)


@FAST
@given(
    messages, st.integers(1, 4), st.lists(st.integers(0, 400), max_size=8), st.binary(max_size=8)
)
def test_websocket_messages_round_trip_fragmented_with_pings_between(
    sent: list[tuple[int, str | bytes]], parts: int, cuts: list[int], ping: bytes
) -> None:
    data = b""
    for opcode, payload in sent:
        raw = payload.encode() if isinstance(payload, str) else payload
        step = max(1, -(-len(raw) // parts))
        pieces = [raw[i : i + step] for i in range(0, len(raw), step)] or [b""]
        for i, piece in enumerate(pieces):
            data += masked(opcode if i == 0 else ws.CONT, piece, fin=i == len(pieces) - 1)
            if i == 0:
                data += masked(ws.PING, ping)  # control frames may come between fragments
    parser = ws.WsParser(max_size=1000)
    received = [m for chunk in _chunks(data, cuts) for m in parser.feed(chunk)]
    assert [m for m in received if m[0] != ws.PING] == sent
    assert [m for m in received if m[0] == ws.PING] == [(ws.PING, ping)] * len(sent)


@FAST
@given(st.integers(0, 70_000), st.sampled_from([ws.TEXT, ws.BINARY]))
def test_outgoing_frames_carry_their_length(size: int, opcode: int) -> None:
    frame = ws.frame(opcode, b"x" * size)
    n = frame[1]
    head = 2 if n < 126 else 4 if n == 126 else 10
    length = n if n < 126 else int.from_bytes(frame[2:head])
    assert (frame[0], length, len(frame)) == (0x80 | opcode, size, head + size)


@FAST
@given(st.integers(0, 70_000), st.text(max_size=200))
def test_close_frames_are_always_valid_for_the_peer(code: int, reason: str) -> None:
    frame = ws.close_frame(code, reason)
    payload = frame[2:]
    assert len(payload) <= 125
    if payload:
        sent = int.from_bytes(payload[:2])
        assert sent not in (1005, 1006, 1015)
        payload[2:].decode()  # UTF-8, however the reason was cut


# --- HTTP heads --------------------------------------------------------------------------


def _parser() -> RequestParser:
    return RequestParser(max_head=2048, max_headers=20, max_body=500)


HTTP_CHARS = st.sampled_from(
    [*"GETPOSHADLU /?=&%:-\r\n\t0123456789abcxyzHTTP/1.", "\x00", "\x7f", "é", "\xff"]
)


@FAST
@given(
    st.text(HTTP_CHARS, max_size=300).map(lambda t: t.encode("utf-8", "surrogatepass"))
    | st.binary(max_size=300),
    st.lists(st.integers(0, 300), max_size=6),
)
def test_http_parser_gives_requests_or_an_http_error(data: bytes, cuts: list[int]) -> None:
    parser = _parser()
    status = None
    try:
        for chunk in _chunks(data, cuts):
            for request in parser.feed(chunk):
                with contextlib.suppress(httptools.HttpParserInvalidURLError):
                    httptools.parse_url(request.url)  # what the driver does next
    except HttpError as error:
        status = error.status
    assert status in (None, 400, 431)


TOKEN = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-0123456789"), min_size=1, max_size=10)
VALUE = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, bytes, list[tuple[bytes, bytes]], bytes]:
    method = draw(st.sampled_from(["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]))
    path = "/" + draw(st.text(st.sampled_from("abc123-_.~/"), max_size=20))
    query = draw(st.text(st.sampled_from("abc=&12"), max_size=10))
    url = (path + ("?" + query if query else "")).encode()
    names = draw(
        st.lists(
            TOKEN.filter(
                lambda t: (
                    t
                    not in (
                        "content-length",
                        "transfer-encoding",
                        "connection",
                        "upgrade",
                        "expect",
                    )
                )
            ),
            max_size=6,
            unique=True,
        )
    )
    headers = [(name.encode(), draw(VALUE).encode()) for name in names]
    body = draw(st.binary(max_size=100)) if method in ("POST", "PUT", "PATCH") else b""
    return method, url, headers, body


@FAST
@given(st.lists(requests(), min_size=1, max_size=3), st.lists(st.integers(0, 2000), max_size=8))
def test_http_requests_round_trip_pipelined_and_split(
    sent: list[tuple[str, bytes, list[tuple[bytes, bytes]], bytes]], cuts: list[int]
) -> None:
    data = b""
    for method, url, headers, body in sent:
        data += f"{method} ".encode() + url + b" HTTP/1.1\r\n"
        data += b"".join(name + b": " + value + b"\r\n" for name, value in headers)
        data += b"Content-Length: %d\r\n\r\n" % len(body) + body
    parser = _parser()
    received = [r for chunk in _chunks(data, cuts) for r in parser.feed(chunk)]
    assert [(r.method, r.url, r.headers[:-1], bytes(r.body)) for r in received] == [
        (method, url, headers, body) for method, url, headers, body in sent
    ]


@FAST
@given(st.text(max_size=40), st.text(max_size=40) | st.none(), st.lists(st.text(max_size=20)))
def test_origin_checks_never_fail(origin: str, host: str | None, allowed: list[str]) -> None:
    policy = OriginPolicy(allowed)
    assert policy.allows(None, host)
    policy.allows(origin, host)
    policy.cors_headers(origin, host)
    same_origin(origin, host)
