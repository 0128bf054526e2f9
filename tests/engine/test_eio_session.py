"""The Engine.IO session state machine, with no sockets: packets in, buffers out."""

from __future__ import annotations

import orjson
import pytest

from rtchat.engine import eio_session as es
from rtchat.engine import outbuf
from rtchat.engine.packets import PacketError
from rtchat.engine.websocket import text_frame
from tests.engine.support import RecordingLink


class Marks:
    def __init__(self) -> None:
        self.marked: list[es.EioSession] = []

        self.later: list[es.EioSession] = []

    def mark(self, session: es.EioSession) -> None:
        self.marked.append(session)

    def mark_later(self, session: es.EioSession) -> None:
        self.later.append(session)


def polling() -> tuple[es.EioSession, Marks]:
    marks = Marks()
    return es.EioSession("sid", marks, websocket=False), marks


def test_open_packet_sends_whole_milliseconds() -> None:
    packet = es.EioSession.open_packet(
        "abc", upgrades=True, ping_interval=0.3, ping_timeout=0.2, max_payload=100
    )
    assert packet[0] == "0"
    assert orjson.loads(packet[1:]) == {
        "sid": "abc",
        "upgrades": ["websocket"],
        "pingInterval": 300,
        "pingTimeout": 200,
        "maxPayload": 100,
    }


def test_polling_queues_packets_and_marks_once() -> None:
    session, marks = polling()
    session.send("42[1]")
    session.send("42[2]")
    assert marks.marked == [session]
    assert session.take_poll() == b"42[1]\x1e42[2]"
    assert session.take_poll() is None


def test_websocket_appends_frames_to_one_buffer() -> None:
    marks = Marks()
    session = es.EioSession("sid", marks, websocket=True)
    frame = text_frame("42[1]")
    session.send_prebuilt("42[1]", frame)
    session.send("2")
    assert session.wbuf is not None
    assert outbuf.joined(session.wbuf) == frame + text_frame("2")
    assert marks.marked == [session]


def test_a_broadcast_frame_is_queued_without_a_copy() -> None:
    session = es.EioSession("sid", Marks(), websocket=True)
    assert session.wbuf is None  # an idle session holds no buffer
    frame = text_frame("42[1]")
    session.send_prebuilt("42[1]", frame)
    assert session.wbuf is frame


def test_frames_sent_later_wait_until_something_else_is_sent() -> None:
    marks = Marks()
    session = es.EioSession("sid", marks, websocket=True)
    first, second = text_frame("42[1]"), text_frame("42[2]")
    session.send_later("42[1]", first)
    session.send_later("42[2]", second)
    assert marks.later == [session]  # once, for the later flush
    assert marks.marked == []
    session.send("3")  # goes now, and takes what waited along, first
    assert marks.marked == [session]
    assert session.wbuf is not None
    assert outbuf.joined(session.wbuf) == first + second + text_frame("3")
    session.send_later("42[4]", text_frame("42[4]"))  # rides along with the flush due
    assert marks.later == [session]
    assert marks.marked == [session]


def test_a_frame_sent_later_to_a_polling_session_is_sent_now() -> None:
    session, marks = polling()
    session.send_later("42[1]", text_frame("42[1]"))
    assert marks.marked == [session]
    assert marks.later == []
    assert session.take_poll() == b"42[1]"


def test_receive_classifies_packets() -> None:
    session, _ = polling()
    assert session.receive("42[1]") == "2[1]"
    assert session.receive(b"\x00") == b"\x00"
    assert session.receive("3") == es.PONG_RECEIVED
    assert session.receive("1") == es.CLOSE_REQUESTED
    assert session.receive("6") == es.NOTHING
    with pytest.raises(PacketError):
        session.receive("5")


def test_upgrade_moves_queued_packets_to_the_websocket() -> None:
    session, _ = polling()
    probe = object()
    assert session.start_upgrade(probe)
    assert not session.start_upgrade(object())
    session.send("42[1]")
    assert session.receive("2probe", on_probe=True) == es.PROBE
    with pytest.raises(PacketError):
        session.receive("42[2]", on_probe=True)
    assert session.receive("5", on_probe=True) == es.UPGRADED
    assert session.state == es.WEBSOCKET
    assert session.ws is probe
    assert session.polls == []
    assert session.wbuf == text_frame("42[1]")  # no noop on the WebSocket
    assert session.take_poll() is None


def test_closed_session_sends_nothing() -> None:
    session, marks = polling()
    session.close()
    session.send("42[1]")
    assert session.polls == []
    assert marks.marked == []


def test_a_poll_carries_at_most_16_packets() -> None:
    session, _ = polling()
    for i in range(20):
        session.send(f"42[{i}]")
    first = session.take_poll()
    assert first is not None
    assert first.count(b"\x1e") == 15
    assert session.take_poll() == b"\x1e".join(f"42[{i}]".encode() for i in range(16, 20))


def test_write_out_sends_the_buffer_in_one_write_and_empties_it() -> None:
    link = RecordingLink(unsent=7)
    session = es.EioSession("sid", Marks(), websocket=True, link=link)
    assert session.write_out() == 0  # nothing queued: no write
    session.send("42[1]")
    session.send("42[2]")
    assert session.write_out() == 7
    assert link.transport.written == [text_frame("42[1]") + text_frame("42[2]")]
    assert session.wbuf is None
    assert session.write_out() == 0
    assert len(link.transport.written) == 1


def test_a_pending_get_is_held_and_taken_once() -> None:
    session, _ = polling()
    get = RecordingLink()
    session.hold_get(get)
    assert session.get is get
    assert session.take_get() is get
    assert session.take_get() is None
    assert session.get is None
