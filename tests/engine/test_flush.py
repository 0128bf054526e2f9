"""The engine's flush (eio_server.py): what a loop iteration queued for a connection goes
out in one write, and broadcasts that come back to back share one."""

from __future__ import annotations

import asyncio

from rtchat.engine import eio_server
from rtchat.engine.eio_server import COALESCE_AT, EioServer
from rtchat.engine.eio_session import EioSession
from rtchat.engine.websocket import text_frame
from tests.engine.support import RecordingLink

WRITE_S = 10e-6  # what each write "takes" on the test's clock


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        self.now += WRITE_S


def _room(size: int) -> tuple[_Clock, list[RecordingLink], list[EioSession]]:
    clock = _Clock()
    server = EioServer(clock=clock)
    links = [RecordingLink(on_write=clock.tick) for _ in range(size)]
    sessions = [
        EioSession(f"s{i}", server, websocket=True, link=link) for i, link in enumerate(links)
    ]
    return clock, links, sessions


def _broadcast(sessions: list[EioSession], text: str) -> bytes:
    frame = text_frame(text)
    for session in sessions:
        session.send_prebuilt(text, frame)
    return frame


async def test_back_to_back_broadcasts_share_a_write_and_a_lone_one_goes_at_once() -> None:
    clock, links, sessions = _room(COALESCE_AT)
    first = _broadcast(sessions, "42[1]")
    await asyncio.sleep(0)
    assert all(link.transport.written == [first] for link in links)  # nothing before it
    # The next comes right after a flush that took COALESCE_AT writes: it waits that long,
    # and what is sent meanwhile goes in the same write.
    second = _broadcast(sessions, "42[2]")
    await asyncio.sleep(0)
    assert all(len(link.transport.written) == 1 for link in links)
    third = _broadcast(sessions, "42[3]")
    await asyncio.sleep(min(COALESCE_AT * WRITE_S, eio_server.COALESCE_MAX_S) + 0.05)
    assert all(link.transport.written == [first, second + third] for link in links)
    # Long after: it goes out at once.
    clock.now += 1.0
    fourth = _broadcast(sessions, "42[4]")
    await asyncio.sleep(0)
    assert all(link.transport.written[-1] == fourth for link in links)


async def test_flushes_to_fewer_sessions_never_wait() -> None:
    _, links, sessions = _room(COALESCE_AT - 1)
    frames = []
    for i in range(3):
        frames.append(_broadcast(sessions, f"42[{i}]"))
        await asyncio.sleep(0)
        assert all(link.transport.written == frames for link in links)
