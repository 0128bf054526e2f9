"""Rules every storage backend applies the same way, so the contract suite can hold them to it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import REACTION_NAMES, Change, LogEntry, Message, Reaction, User

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# A room with its member count, in the one SQL that PostgreSQL and SQLite both speak; the
# caller adds its WHERE clause.
SUMMARY_SELECT = """
SELECT r.name, r.kind, r.topic, r.last_seq,
       (SELECT count(*) FROM members m WHERE m.room = r.name)
  FROM rooms r
"""


def to_micros(timestamp: datetime) -> int:
    """Microseconds since the Unix epoch; exact, unlike a float."""
    if timestamp.tzinfo is None:
        raise ValueError("Message timestamps must be timezone-aware (UTC).")
    return (timestamp - _EPOCH) // _MICROSECOND


def to_seconds(moment: datetime) -> int:
    """Whole seconds since the epoch: how every backend keeps when an account was last seen."""
    return to_micros(moment) // 1_000_000


def from_micros(micros: int) -> datetime:
    """The timezone-aware UTC datetime `to_micros` was given."""
    return _EPOCH + timedelta(microseconds=micros)


def as_utc(timestamp: datetime) -> datetime:
    """The same instant in UTC, which is how every backend hands timestamps back."""
    return from_micros(to_micros(timestamp))


def window(limit: int) -> int:
    """A page size never below zero: SQL reads `LIMIT -1` as "no limit"."""
    return max(limit, 0)


def newer_schema(version: int, latest: int) -> ChatError:
    """The refusal to open a database that a newer rtchat migrated past `latest`."""
    return ChatError(
        ErrorCode.INTERNAL,
        f"The database is at schema version {version}, newer than this rtchat "
        f"knows ({latest}); upgrade rtchat instead.",
    )


def mentions_to_json(users: Sequence[User]) -> str | None:
    """How a message's mentions are kept beside it: `[[id, username], ...]`, None for none."""
    return json.dumps([[u.id, u.username] for u in users]) if users else None


def mentions_from_json(text: str | None) -> tuple[User, ...]:
    if not text:
        return ()
    return tuple(User(id=str(i), username=str(name)) for i, name in json.loads(text))


def fold_reactions(given: Iterable[tuple[str, str]]) -> tuple[Reaction, ...]:
    """A message's reactions from who gave what, `(emoji, username)` in the order given."""
    names: dict[str, list[str]] = {}
    for emoji, username in given:
        names.setdefault(emoji, []).append(username)
    return tuple(
        Reaction(emoji, len(who), tuple(who[:REACTION_NAMES])) for emoji, who in names.items()
    )


def merge_log(messages: list[Message], changes: list[Change], limit: int) -> list[LogEntry]:
    """The first `limit` of two runs of a room's log, each in order, as one run in order."""
    entries: list[LogEntry] = [*messages, *changes]
    entries.sort(key=lambda entry: entry.seq)
    return entries[: window(limit)]
