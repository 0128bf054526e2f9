"""The batching log handler: `info` lines wait at most `FLUSH_DELAY` on the event loop,
a warning takes everything before it out at once, and a line logged outside the loop is
written at once."""

from __future__ import annotations

import asyncio
import io
import logging

from rtchat.logs import FLUSH_DELAY, BatchingHandler, TextFormatter


def _handler() -> tuple[BatchingHandler, io.BytesIO]:
    raw = io.BytesIO()
    stream = io.TextIOWrapper(io.BufferedWriter(raw, 1 << 16), encoding="utf-8")
    handler = BatchingHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    return handler, raw


def _record(level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord("rtchat.test", level, __file__, 1, message, None, None)


async def test_info_lines_are_written_together_within_the_delay() -> None:
    handler, raw = _handler()
    handler.handle(_record(logging.INFO, "one"))
    handler.handle(_record(logging.INFO, "two"))
    assert raw.getvalue() == b""
    await asyncio.sleep(FLUSH_DELAY * 4)
    assert raw.getvalue() == b"INFO one\nINFO two\n"


async def test_a_warning_writes_what_waits_before_it_at_once() -> None:
    handler, raw = _handler()
    handler.handle(_record(logging.INFO, "before"))
    handler.handle(_record(logging.WARNING, "now"))
    assert raw.getvalue() == b"INFO before\nWARNING now\n"
    await asyncio.sleep(FLUSH_DELAY * 2)  # the pending flush finds nothing more
    assert raw.getvalue() == b"INFO before\nWARNING now\n"


def test_outside_an_event_loop_every_line_is_written_at_once() -> None:
    handler, raw = _handler()
    handler.handle(_record(logging.INFO, "plain"))
    assert raw.getvalue() == b"INFO plain\n"


def test_text_lines_carry_the_time_of_each_record() -> None:
    formatter = TextFormatter("%(asctime)s %(message)s")
    plain = logging.Formatter("%(asctime)s %(message)s")
    first = _record(logging.INFO, "a")
    later = _record(logging.INFO, "b")
    later.created, later.msecs = first.created + 1.25, (first.msecs + 250) % 1000
    for record in (first, later, first):
        assert formatter.format(record) == plain.format(record)


def test_a_flush_due_on_an_ended_loop_does_not_hold_lines_on_the_next() -> None:
    handler, raw = _handler()

    async def log(message: str, wait: float) -> None:
        handler.handle(_record(logging.INFO, message))
        await asyncio.sleep(wait)

    asyncio.run(log("old loop", 0))  # its flush never runs: the loop ends first
    assert raw.getvalue() == b""
    asyncio.run(log("this loop", FLUSH_DELAY * 4))
    assert raw.getvalue() == b"INFO old loop\nINFO this loop\n"
