"""Frames sent later (engine/outbuf.py, `LATER_S`) through a real Engine.IO server's flush:
they wait for the connection's next write or the later flush, whichever comes first, and
nothing sent after them overtakes them."""

from __future__ import annotations

import asyncio

from rtchat.engine.eio_server import EioServer
from rtchat.engine.outbuf import LATER_S
from rtchat.engine.websocket import text_frame
from tests.engine.support import RecordingLink


def opened() -> tuple[EioServer, RecordingLink]:
    server = EioServer()
    link = RecordingLink()
    session = server.websocket_opened(link, {}, b"HTTP/1.1 101 \r\n\r\n")
    assert session is not None
    link.session = session
    link.transport.written.clear()  # the 101 and the OPEN packet
    return server, link


async def test_frames_sent_later_leave_together_within_the_wait() -> None:
    server, link = opened()
    assert link.session is not None
    frames = [text_frame(f'42["joined",{i}]') for i in range(3)]
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, f in enumerate(frames):
        link.session.send_later(f'42["joined",{i}]', f)
        await asyncio.sleep(0)  # an iteration each: written now, each would be a write
    assert link.transport.written == []
    for _ in range(100):  # bounded: LATER_S is a fraction of this
        if link.transport.written:
            break
        await asyncio.sleep(LATER_S / 4)
    assert loop.time() - start >= LATER_S * 0.9
    assert link.transport.written == [b"".join(frames)]
    server.stop()


async def test_anything_sent_now_takes_what_waits_along_first() -> None:
    server, link = opened()
    assert link.session is not None
    later, now = text_frame('42["joined",1]'), text_frame('42["message",2]')
    link.session.send_later('42["joined",1]', later)
    link.session.send_prebuilt('42["message",2]', now)
    await asyncio.sleep(0)
    assert link.transport.written == [later + now]
    await asyncio.sleep(LATER_S * 2)  # the later flush finds nothing left
    assert link.transport.written == [later + now]
    server.stop()


async def test_a_session_closed_while_frames_wait_writes_them_first() -> None:
    server, link = opened()
    assert link.session is not None
    later = text_frame('42["left",1]')
    link.session.send_later('42["left",1]', later)
    server.close_session(link.session, "test")
    assert link.transport.written == [later]
    await asyncio.sleep(LATER_S * 2)
    assert link.transport.written == [later]
    server.stop()
