"""SQL both relational backends (SQLite, PostgreSQL) read the log with, and the domain
objects made from its rows (SQLite's 0/1 and PostgreSQL's booleans alike)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rtchat.domain.models import (
    QUOTE_LENGTH,
    Change,
    ChangeDraft,
    ChangeKind,
    Message,
    Quote,
    User,
)
from rtchat.storage._common import from_micros, mentions_from_json

# A message as it stands now, with what it quotes of the message it answers.
SELECT_MESSAGES = (
    "SELECT m.id, m.room, m.seq, m.author_id, m.author_name, m.text, m.ts_us, m.client_id, "
    "m.sent_from, m.author_guest, m.edited_us, m.deleted, "
    f"q.id, q.seq, q.author_id, q.author_name, q.author_guest, substr(q.text, 1, {QUOTE_LENGTH}), "
    "q.deleted, m.mentions FROM messages m LEFT JOIN messages q ON q.id = m.reply_to"
)


def message_from_row(row: Sequence[Any]) -> Message:
    """A message from a row of `SELECT_MESSAGES` (reactions are added by `with_reactions`)."""
    msg_id, room, seq, author_id, author_name, text, ts_us, client_id, sent_from, guest = row[:10]
    edited_us, deleted, q_id, q_seq, q_author_id, q_author_name, q_guest, q_text, q_del = row[10:19]
    quote = None
    if q_id is not None:
        q_author = User(id=q_author_id, username=q_author_name, guest=bool(q_guest))
        quote = Quote(q_id, q_seq, q_author, "" if q_del else q_text, bool(q_del))
    return Message(
        id=msg_id,
        room=room,
        seq=seq,
        author=User(id=author_id, username=author_name, guest=bool(guest)),
        text=text,
        timestamp=from_micros(ts_us),
        client_id=client_id,
        sent_from=sent_from,
        reply_to=quote,
        edited_at=None if edited_us is None else from_micros(edited_us),
        deleted=bool(deleted),
        mentions=mentions_from_json(row[19]),
    )


CHANGE_COLUMNS = (
    "room, seq, target, kind, actor_id, actor_name, actor_guest, value, ts_us, client_id, count"
)


def change_from_row(row: Sequence[Any]) -> Change:
    room, seq, target, kind, actor_id, actor_name, guest, value, ts_us, client_id, count = row
    return Change(
        room=room,
        seq=seq,
        target=target,
        actor=User(id=actor_id, username=actor_name, guest=bool(guest)),
        kind=ChangeKind(kind),
        timestamp=from_micros(ts_us),
        value=value,
        client_id=client_id,
        count=count,
    )


def change_row(draft: ChangeDraft, seq: int, ts_us: int, count: int) -> tuple[Any, ...]:
    """The `changes` row of `draft`, numbered `seq`, in `CHANGE_COLUMNS` order."""
    return (
        draft.room,
        seq,
        draft.target,
        str(draft.kind),
        draft.actor.id,
        draft.actor.username,
        draft.actor.guest,
        "" if draft.kind is ChangeKind.DELETE else draft.value,
        ts_us,
        draft.client_id,
        count,
    )
