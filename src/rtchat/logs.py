"""Logging set-up: readable lines (`RTCHAT_LOG_FORMAT=text`) or one JSON object a line.

Records are written to stderr in batches: a connection's open and close lines come at the
rate of accepts (thousands a second), and a write and a flush each cost the event loop
more than making the line. A record at `warning` or above, or one logged outside the event
loop's thread, is written at once with whatever waits before it; the rest within
`FLUSH_DELAY` seconds, and at exit.

A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message` and `node`, then the
fields the code passed with `extra=` (a connection's `event`, `sid`, `transport`,
`reason`, ...), and `exception` with the traceback when there is one.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

import orjson

FLUSH_DELAY = 0.05
"""Seconds an `info` line may wait in the buffer before it is written."""

# What every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(
    (*logging.LogRecord("", 0, "", 0, "", None, None).__dict__, "message", "asctime")
)


class JsonFormatter(logging.Formatter):
    def __init__(self, node: str) -> None:
        super().__init__()
        self._node = node

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "node": self._node,
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and key not in line:
                line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class TextFormatter(logging.Formatter):
    """The readable format, with the time's seconds formatted once per second: strftime
    for each line was a tenth of a connection line's cost."""

    def __init__(self, fmt: str) -> None:
        super().__init__(fmt)
        self._second = -1
        self._stamp = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        second = int(record.created)
        if second != self._second:
            self._second, self._stamp = second, super().formatTime(record).partition(",")[0]
        return f"{self._stamp},{int(record.msecs):03d}"


class BatchingHandler(logging.StreamHandler[TextIO]):
    """A `StreamHandler` that flushes once per `FLUSH_DELAY` on the event loop; see above."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._flush_on: asyncio.AbstractEventLoop | None = None  # the loop a flush is due on

    def flush(self) -> None:
        self._flush_on = None
        super().flush()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
        except Exception:
            self.handleError(record)
            return
        loop = _running_loop()
        if record.levelno >= logging.WARNING or loop is None:
            self.flush()
        elif self._flush_on is not loop:  # none due, or due on a loop that has ended
            self._flush_on = loop
            loop.call_later(FLUSH_DELAY, self.flush)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def configure(level: str, log_format: str, node: str, *, supervising: bool = False) -> None:
    """Send every record to stderr in `log_format` ("text" or "json")."""
    # No line prints where a call was made from or in which thread or process, so none is
    # looked up for each record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    # stderr is line-buffered (a write per line); this stream writes when flushed.
    stream = io.TextIOWrapper(
        io.BufferedWriter(io.FileIO(sys.stderr.fileno(), "w", closefd=False), 1 << 16),
        encoding="utf-8",
        errors="backslashreplace",
    )
    handler = BatchingHandler(stream)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(node))
    else:
        role = " supervisor" if supervising else ""
        handler.setFormatter(
            TextFormatter(f"%(asctime)s %(levelname)s [{node}{role}] %(name)s: %(message)s")
        )
    logging.basicConfig(level=level.upper(), handlers=[handler])
