"""What a connection queues for its next flush (engine/outbuf.py)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from rtchat.engine import outbuf


def test_one_frame_is_the_shared_object_itself() -> None:
    frame = b"\x81\x0242"
    queued = outbuf.add(None, frame)
    assert queued is frame
    assert outbuf.joined(queued) is frame
    assert outbuf.size(queued) == len(frame)
    assert outbuf.size(None) == 0


@given(st.lists(st.binary(max_size=40), min_size=1, max_size=20))
def test_frames_go_out_in_order_as_one_write(frames: list[bytes]) -> None:
    queued: outbuf.Queued = None
    for f in frames:
        queued = outbuf.add(queued, f)
    assert queued is not None
    assert outbuf.joined(queued) == b"".join(frames)
    assert outbuf.size(queued) == sum(map(len, frames))


@given(st.lists(st.tuples(st.booleans(), st.binary(min_size=1, max_size=40)), max_size=20))
def test_frames_sent_later_keep_their_place(sends: list[tuple[bool, bytes]]) -> None:
    """Whatever mix of frames sent now and later: one write, in the order sent, and it waits
    only while nothing but later frames is queued."""
    queued: outbuf.Queued = None
    for later, f in sends:
        queued = outbuf.add_later(queued, f) if later else outbuf.add(queued, f)
    if not sends:
        assert queued is None
        return
    assert queued is not None
    assert outbuf.joined(queued) == b"".join(f for _, f in sends)
    assert outbuf.urgent(queued) == (not all(later for later, _ in sends))
