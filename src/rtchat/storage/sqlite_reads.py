"""SQLite read markers, unread and mention counts, and full-text search (FTS5).

Counts are capped (`UNREAD_CAP`) inside the query, so a room nobody read for months
costs an index range of that size at most. Search goes through `messages_fts`, the
external-content FTS5 index the schema's triggers keep in step with `messages.text`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Message, ReadState
from rtchat.ports import UNREAD_CAP, SearchQuery
from rtchat.storage._common import window
from rtchat.storage.sqlite_rows import read_messages
from rtchat.storage.sqlite_thread import SqliteThread

COUNTED = "x.author_id <> :user AND x.deleted = 0"
"""Which messages after the marker count as unread: the one place to say so."""

_STATES = f"""
SELECT r.name, coalesce(k.seq, 0),
       (SELECT count(*) FROM (
            SELECT 1 FROM messages x
             WHERE x.room = r.name AND x.seq > coalesce(k.seq, 0) AND {COUNTED}
             LIMIT {UNREAD_CAP})),
       (SELECT count(*) FROM (
            SELECT 1 FROM mentions n JOIN messages x ON x.room = n.room AND x.seq = n.seq
             WHERE n.user_id = :user AND n.room = r.name AND n.seq > coalesce(k.seq, 0)
               AND {COUNTED}
             LIMIT {UNREAD_CAP}))
  FROM rooms r
  LEFT JOIN read_markers k ON k.user_id = :user AND k.room = r.name
"""


def _states(conn: sqlite3.Connection, user_id: str, rooms: Sequence[str]) -> dict[str, ReadState]:
    found: dict[str, ReadState] = {}
    names = sorted(set(rooms))
    size = max(1, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) - 1)
    for start in range(0, len(names), size):
        chunk = names[start : start + size]
        params: dict[str, object] = {f"r{i}": name for i, name in enumerate(chunk)}
        params["user"] = user_id
        where = ", ".join(f":r{i}" for i in range(len(chunk)))
        for name, seq, unread, mentions in conn.execute(
            f"{_STATES} WHERE r.name IN ({where})", params
        ):
            found[name] = ReadState(name, seq, unread, mentions)
    return found


def fts_query(words: Sequence[str]) -> str:
    """`words` as an FTS5 query of quoted strings, all required: nothing a user types can
    be read as FTS5 syntax (a quote inside a word is doubled)."""
    return " ".join('"' + word.replace('"', '""') + '"' for word in words)


class SqliteReadMarkers:
    def __init__(self, thread: SqliteThread) -> None:
        self._thread = thread

    async def mark(self, user_id: str, room: str, seq: int) -> tuple[ReadState, bool]:
        def job(conn: sqlite3.Connection) -> tuple[ReadState, bool]:
            row = conn.execute(
                "SELECT r.last_seq, coalesce(k.seq, 0) FROM rooms r LEFT JOIN read_markers k"
                " ON k.user_id = ? AND k.room = r.name WHERE r.name = ?",
                (user_id, room),
            ).fetchone()
            if row is None:
                raise ChatError(ErrorCode.ROOM_NOT_FOUND)
            last, old = int(row[0]), int(row[1])
            conn.execute(
                "INSERT INTO read_markers (user_id, room, seq) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, room) DO UPDATE SET seq = max(seq, excluded.seq)",
                (user_id, room, min(seq, last)),
            )
            state = _states(conn, user_id, [room])[room]
            return state, state.seq != old

        return await self._thread.run(job)

    async def states(self, user_id: str, rooms: Sequence[str]) -> dict[str, ReadState]:
        def job(conn: sqlite3.Connection) -> dict[str, ReadState]:
            return _states(conn, user_id, rooms)

        return await self._thread.run(job, writes=False)


class SqliteMessageSearch:
    def __init__(self, thread: SqliteThread) -> None:
        self._thread = thread

    async def search(self, query: SearchQuery) -> list[Message]:
        where = ["messages_fts MATCH :query"]
        params: dict[str, object] = {"query": fts_query(query.words)}
        if query.user_id is not None:
            where.append("m.room IN (SELECT room FROM members WHERE user_id = :user)")
            params["user"] = query.user_id
        if query.room is not None:
            where.append("m.room = :room")
            params["room"] = query.room
        if query.before is not None:
            where.append("(m.ts_us, m.room, m.seq) < (:ts, :before_room, :seq)")
            params.update(zip(("ts", "before_room", "seq"), query.before, strict=True))
        params["limit"] = window(query.limit)
        # The messages as they stand now (a delete empties the text, so it is never found).
        sql = (
            "JOIN messages_fts ON messages_fts.rowid = m.rowid"
            f" WHERE {' AND '.join(where)}"
            " ORDER BY m.ts_us DESC, m.room DESC, m.seq DESC LIMIT :limit"
        )

        def job(conn: sqlite3.Connection) -> list[Message]:
            return read_messages(conn, sql, params)

        return await self._thread.run(job, writes=False)
