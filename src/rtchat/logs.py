"""Logging set-up: readable lines (`RTCHAT_LOG_FORMAT=text`) or one JSON object a line.

A JSON line holds `time` (UTC, ISO 8601), `level`, `logger`, `message` and `node`, then the
fields the code passed with `extra=` (a connection's `event`, `sid`, `transport`,
`reason`, ...), and `exception` with the traceback when there is one.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

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


def configure(level: str, log_format: str, node: str, *, supervising: bool = False) -> None:
    """Send every record to stderr in `log_format` ("text" or "json")."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter(node))
    else:
        role = " supervisor" if supervising else ""
        handler.setFormatter(
            logging.Formatter(f"%(asctime)s %(levelname)s [{node}{role}] %(name)s: %(message)s")
        )
    logging.basicConfig(level=level.upper(), handlers=[handler])
