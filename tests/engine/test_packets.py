"""The protocol core's codecs, with no sockets: strings and bytes in, packets out."""

from __future__ import annotations

import pytest

from rtchat.engine import packets
from rtchat.engine.packets import PacketError, SioPacket


def test_polling_payload_round_trip() -> None:
    body = "4hello\x1ebAQIDBA==\x1e2"
    decoded = packets.decode_payload(body)
    assert decoded == ["4hello", b"\x01\x02\x03\x04", "2"]
    assert packets.encode_payload(decoded) == body.encode()


@pytest.mark.parametrize("body", ["", "abc", "4a\x1e\x1e2", "b!!!", "7x"])
def test_bad_payloads_are_refused(body: str) -> None:
    with pytest.raises(PacketError):
        packets.decode_payload(body)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", SioPacket(packets.CONNECT)),
        ('0{"token":"x"}', SioPacket(packets.CONNECT, data={"token": "x"})),
        ("0/admin,", SioPacket(packets.CONNECT, "/admin")),
        ("1/admin,", SioPacket(packets.DISCONNECT, "/admin")),
        ('2["hello",1]', SioPacket(packets.EVENT, data=["hello", 1])),
        ('2/chat,12["hi"]', SioPacket(packets.EVENT, "/chat", ["hi"], 12)),
        ('312["ok"]', SioPacket(packets.ACK, data=["ok"], id=12)),
        (
            '51-["up",{"_placeholder":true,"num":0}]',
            SioPacket(
                packets.BINARY_EVENT, data=["up", {"_placeholder": True, "num": 0}], attachments=1
            ),
        ),
        ("61-/x,4[{}]", SioPacket(packets.BINARY_ACK, "/x", [{}], 4, 1)),
    ],
)
def test_decode(text: str, expected: SioPacket) -> None:
    assert packets.decode(text) == expected


@pytest.mark.parametrize(
    "text", ["", "9", "2", "2{}", "2[]", "3[1]", '0"x"', "1[1]", '4{"message":"x"}', "5[]", "2[bad"]
)
def test_decode_refuses_invalid_packets(text: str) -> None:
    with pytest.raises(PacketError):
        packets.decode(text)


def test_encode_event_with_namespace_and_ack_id() -> None:
    assert packets.encode(SioPacket(packets.EVENT, "/chat", ["hi", {"a": 1}], 7)) == [
        '42/chat,7["hi",{"a":1}]'
    ]
    assert packets.encode(SioPacket(packets.ACK, data=[], id=3)) == ["433[]"]


def test_encode_binary_ack_puts_attachments_after_placeholders() -> None:
    encoded = packets.encode(SioPacket(packets.ACK, data=[b"\x00", {"b": b"\x01"}], id=5))
    assert encoded == [
        '462-5[{"_placeholder":true,"num":0},{"b":{"_placeholder":true,"num":1}}]',
        b"\x00",
        b"\x01",
    ]


def test_reconstruct_binary() -> None:
    packet = packets.decode('51-["up",{"_placeholder":true,"num":0}]')
    assert packets.reconstruct(packet.data, [b"\xff"]) == ["up", b"\xff"]
    with pytest.raises(PacketError):
        packets.reconstruct(packet.data, [])


def test_event_text_is_what_encode_gives() -> None:
    assert packets.event_text("news", ({"x": 1},)) == '42["news",{"x":1}]'
    assert packets.event_text("news", (1, 2), "/admin") == '42/admin,["news",1,2]'


@pytest.mark.parametrize(
    "text",
    [
        '2²["x"]',  # str.isdigit says yes, int() says no
        '2\u0661["x"]',  # an Arabic-Indic one: int() would read it
        "2" + "9" * 5000 + '["x"]',  # int() refuses more than 4,300 digits
        "2/chat," + "1" * 5000 + '["x"]',
        f'3{packets.MAX_ACK_ID + 1}["x"]',
        '5²-["x",{"_placeholder":true,"num":0}]',
        "5" + "1" * 5000 + '-["x"]',
        f'5{packets.MAX_ATTACHMENTS + 1}-["x"]',
        '51000000-["x",{"_placeholder":true,"num":0}]',
        "2[true]",
    ],
)
def test_numbers_are_bounded_ascii_digits(text: str) -> None:
    with pytest.raises(PacketError):
        packets.decode(text)


def test_the_largest_ack_id_and_attachment_count_are_accepted() -> None:
    assert packets.decode(f'3{packets.MAX_ACK_ID}["x"]').id == packets.MAX_ACK_ID
    announced = packets.decode(f'5{packets.MAX_ATTACHMENTS}-["x"]')
    assert announced.attachments == packets.MAX_ATTACHMENTS


@pytest.mark.parametrize("body", ["bAQID\u00e9", "b\uff21QID", "4x\x1eb\u0663\u0663\u0663\u0663"])
def test_non_ascii_base64_is_a_packet_error(body: str) -> None:
    with pytest.raises(PacketError):
        packets.decode_payload(body)


def test_reconstruct_bounds_nesting() -> None:
    deep: object = {"_placeholder": True, "num": 0}
    for _ in range(packets.MAX_NESTING + 1):
        deep = [deep]
    with pytest.raises(PacketError):
        packets.reconstruct(deep, [b"x"])
    assert packets.reconstruct([{"_placeholder": True, "num": True}], [b"x"]) == [
        {"_placeholder": True, "num": True}
    ]
