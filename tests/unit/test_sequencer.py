"""The sequencer and the envelopes between nodes: pure, fed by hand and by hypothesis."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtchat.domain.sequencer import Sequencer
from rtchat.fanout import envelope
from rtchat.fanout.envelope import Command, EnvelopeError, RoomFrame, UserFrame


def test_holds_everything_until_the_baseline() -> None:
    seq: Sequencer[str] = Sequencer()
    assert seq.offer(5, "e5") == []
    assert seq.offer(4, "e4") == []
    assert seq.missing() is None  # no baseline: nothing to ask the store for yet
    assert seq.baseline(3) == ["e4", "e5"]
    assert seq.last == 5


def test_early_arrivals_wait_and_the_gap_is_named() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.baseline(0)
    assert seq.offer(1, "a") == ["a"]
    assert seq.offer(3, "c") == []
    assert seq.offer(4, "d") == []
    assert seq.waiting
    assert seq.missing() == (1, 2)
    assert seq.offer(2, "b") == ["b", "c", "d"]
    assert not seq.waiting
    assert seq.offer(2, "b again") == []


@given(st.permutations(list(range(1, 41))), st.lists(st.integers(1, 40), max_size=20))
def test_any_arrival_order_with_repeats_comes_out_once_in_order(
    order: list[int], repeats: list[int]
) -> None:
    seq: Sequencer[int] = Sequencer()
    seq.baseline(0)
    out: list[int] = []
    for n in [*order[:20], *repeats, *order[20:], *repeats]:
        out.extend(seq.offer(n, n))
    assert out == list(range(1, 41))
    assert seq.missing() is None


def test_a_baseline_after_delivery_never_goes_back() -> None:
    seq: Sequencer[str] = Sequencer()
    seq.baseline(10)
    seq.offer(11, "x")
    assert seq.baseline(5) == []
    assert seq.last == 11


def test_envelopes_round_trip() -> None:
    event = b'["receive-message",{"message":"a|b"}]'
    assert envelope.parse(envelope.room_frame("n1", 7, "u1", event)) == RoomFrame(
        "n1", 7, "u1", event
    )
    assert envelope.parse(envelope.user_frame("n1", "sid", event)) == UserFrame("n1", "sid", event)
    assert envelope.parse(envelope.command("n1", {"t": "enter", "r": "x|y"})) == Command(
        "n1", {"t": "enter", "r": "x|y"}
    )
    assert envelope.origin_of(envelope.room_frame("node-2", 0, "", event)) == b"node-2"


@pytest.mark.parametrize(
    "data",
    [b"", b"X|n|1", b"F|n|x|u|e", b"F|n|1", b"C|n|[1]", b"C|n|{", b"F|n|" + b"9" * 30 + b"||e"],
)
def test_bad_envelopes_raise_the_envelope_error(data: bytes) -> None:
    with pytest.raises(EnvelopeError):
        envelope.parse(data)


@given(st.binary(max_size=200))
def test_parse_raises_nothing_but_the_envelope_error(data: bytes) -> None:
    with contextlib.suppress(EnvelopeError):
        envelope.parse(data)
