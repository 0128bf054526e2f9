"""PostgreSQL read markers, unread and mention counts, and full-text search.

Counts are capped (`UNREAD_CAP`) inside the query, one LATERAL subquery per room of one
statement. Search matches the 'simple' configuration's tsvector of the text, the very
expression `messages_search` indexes, against `plainto_tsquery`, which reads no syntax.
"""

from __future__ import annotations

from collections.abc import Sequence

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Message, ReadState
from rtchat.ports import UNREAD_CAP, SearchQuery
from rtchat.storage._common import window
from rtchat.storage.postgres_changes import read_messages
from rtchat.storage.postgres_pool import PgConnection
from rtchat.storage.postgres_writer import PgWriter

COUNTED = "x.author_id <> $1 AND NOT x.deleted"
"""Which messages after the marker count as unread: the one place to say so."""

_STATES = f"""
SELECT r.name, coalesce(k.seq, 0), u.n, c.n
  FROM unnest($2::text[]) AS asked (name)
  JOIN rooms r ON r.name = asked.name
  LEFT JOIN read_markers k ON k.user_id = $1 AND k.room = r.name
  CROSS JOIN LATERAL (
      SELECT count(*) AS n FROM (
          SELECT 1 FROM messages x
           WHERE x.room = r.name AND x.seq > coalesce(k.seq, 0) AND {COUNTED}
           LIMIT {UNREAD_CAP}) s) u
  CROSS JOIN LATERAL (
      SELECT count(*) AS n FROM (
          SELECT 1 FROM mentions n JOIN messages x ON x.room = n.room AND x.seq = n.seq
           WHERE n.user_id = $1 AND n.room = r.name AND n.seq > coalesce(k.seq, 0)
             AND {COUNTED}
           LIMIT {UNREAD_CAP}) s) c
"""

# Every part of one statement reads the same snapshot: `old` is the marker before `moved`.
_MARK = """
WITH room AS (
    SELECT name, last_seq FROM rooms WHERE name = $2
), old AS (
    SELECT seq FROM read_markers WHERE user_id = $1 AND room = $2
), moved AS (
    INSERT INTO read_markers (user_id, room, seq)
    SELECT $1, name, least($3::bigint, last_seq) FROM room
    ON CONFLICT (user_id, room) DO UPDATE SET seq = greatest(read_markers.seq, excluded.seq)
    RETURNING seq
)
SELECT (SELECT seq FROM moved), coalesce((SELECT seq FROM old), 0)
"""


async def _states(
    connection: PgConnection, user_id: str, rooms: Sequence[str]
) -> dict[str, ReadState]:
    rows = await connection.fetch(_STATES, user_id, sorted(set(rooms)))
    return {row[0]: ReadState(row[0], row[1], row[2], row[3]) for row in rows}


class PostgresReadMarkers:
    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def mark(self, user_id: str, room: str, seq: int) -> tuple[ReadState, bool]:
        async def job(connection: PgConnection) -> tuple[ReadState, bool]:
            row = await connection.fetchrow(_MARK, user_id, room, seq)
            if row is None or row[0] is None:
                raise ChatError(ErrorCode.ROOM_NOT_FOUND)
            state = (await _states(connection, user_id, [room]))[room]
            return state, row[0] != row[1]

        return await self._writer.run(job)

    async def states(self, user_id: str, rooms: Sequence[str]) -> dict[str, ReadState]:
        async def job(connection: PgConnection) -> dict[str, ReadState]:
            return await _states(connection, user_id, rooms)

        return await self._writer.read(job)


class PostgresMessageSearch:
    def __init__(self, writer: PgWriter) -> None:
        self._writer = writer

    async def search(self, query: SearchQuery) -> list[Message]:
        ts, before_room, seq = query.before or (None, None, None)
        # The messages as they stand now (a delete empties the text, so it is never found).
        sql = (
            "WHERE to_tsvector('simple', m.text) @@ plainto_tsquery('simple', $2)"
            " AND ($1::text IS NULL OR m.room IN (SELECT room FROM members WHERE user_id = $1))"
            " AND ($3::text IS NULL OR m.room = $3)"
            " AND ($4::bigint IS NULL OR (m.ts_us, m.room, m.seq) < ($4, $5::text, $6::bigint))"
            " ORDER BY m.ts_us DESC, m.room DESC, m.seq DESC LIMIT $7"
        )

        async def job(connection: PgConnection) -> list[Message]:
            params = (
                query.user_id,
                " ".join(query.words),
                query.room,
                ts,
                before_room,
                seq,
                window(query.limit),
            )
            return await read_messages(connection, sql, params)

        return await self._writer.read(job)
