"""The SQLite schema as a list of migrations; `PRAGMA user_version` records how many ran.

Append new scripts to `MIGRATIONS`; never edit one that has shipped, since files in the
field have run it already. Each script runs in one transaction together with the
version bump, so a file is always at exactly one version.
"""

from __future__ import annotations

import sqlite3

from rtchat.storage._common import newer_schema

_V1_TABLES = """
CREATE TABLE users (
    id          TEXT PRIMARY KEY,
    username    TEXT,             -- NULL once released: the user stays for old messages
    name_key    TEXT UNIQUE,      -- casefolded username; SQLite's NOCASE folds ASCII only
    token_hash  TEXT UNIQUE       -- only a hash: a stolen file holds no usable token
);

CREATE TABLE rooms (
    name   TEXT PRIMARY KEY,
    kind   TEXT NOT NULL CHECK (kind IN ('room', 'dm')),
    topic  TEXT NOT NULL DEFAULT ''
);

CREATE TABLE members (
    room     TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user_id  TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (room, user_id)
) WITHOUT ROWID;
CREATE INDEX members_by_user ON members (user_id, room);

-- author_name is the name when the message was written: released users lose theirs.
-- No foreign key on author_id, so history never depends on the users table.
CREATE TABLE messages (
    id           TEXT NOT NULL UNIQUE,
    room         TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    author_id    TEXT NOT NULL,
    author_name  TEXT NOT NULL,
    text         TEXT NOT NULL,
    ts_us        INTEGER NOT NULL,  -- microseconds since the epoch, UTC
    client_id    TEXT,
    UNIQUE (room, seq)
);
CREATE UNIQUE INDEX messages_by_client_id
    ON messages (client_id, author_id) WHERE client_id IS NOT NULL;
"""

# Version 1 found the next sequence number with MAX(seq) + 1. A counter on the room
# gives the same number with one row update, and lets room summaries read the last
# sequence number without touching messages.
_V2_ROOM_COUNTER = """
ALTER TABLE rooms ADD COLUMN last_seq INTEGER NOT NULL DEFAULT 0;
UPDATE rooms SET last_seq = coalesce(
    (SELECT max(seq) FROM messages WHERE messages.room = rooms.name), 0
);
"""

# Version 3: the connection each message was sent from (the seed's `userId`) and whether
# its author was a guest; when each account was last seen, for cleaning up those that
# never come back. Released accounts used to stay as nameless rows for ever; now a
# release deletes the account, and the ones kept so far go here.
_V3_SENDERS_AND_LAST_SEEN = """
ALTER TABLE messages ADD COLUMN sent_from TEXT;
ALTER TABLE messages ADD COLUMN author_guest INTEGER NOT NULL DEFAULT 0;
DELETE FROM members WHERE user_id IN (SELECT id FROM users WHERE username IS NULL);
DELETE FROM users WHERE username IS NULL;
ALTER TABLE users ADD COLUMN last_seen INTEGER NOT NULL DEFAULT 0;  -- seconds since the epoch
UPDATE users SET last_seen = CAST(strftime('%s', 'now') AS INTEGER);
CREATE INDEX users_by_last_seen ON users (last_seen);
"""

# Version 4: a room is a log of events. A message row keeps its current state (the reply it
# answers, when it was last edited, whether it is a tombstone); edits, deletes and
# reactions are entries of `changes`, numbered by the same `rooms.last_seq` as messages;
# `reactions` holds who gave which emoji to which message now.
_V4_EVENT_LOG = """
ALTER TABLE messages ADD COLUMN reply_to TEXT;
ALTER TABLE messages ADD COLUMN edited_us INTEGER;
ALTER TABLE messages ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;

CREATE TABLE changes (
    room         TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq          INTEGER NOT NULL,
    target       TEXT NOT NULL,   -- the id of the message it changes
    kind         TEXT NOT NULL CHECK (kind IN ('edit', 'delete', 'react', 'unreact')),
    actor_id     TEXT NOT NULL,
    actor_name   TEXT NOT NULL,
    actor_guest  INTEGER NOT NULL DEFAULT 0,
    value        TEXT NOT NULL,   -- an edit's text (emptied by a delete), a reaction's emoji
    ts_us        INTEGER NOT NULL,
    client_id    TEXT,
    count        INTEGER NOT NULL DEFAULT 0,  -- a reaction's givers once it was made
    PRIMARY KEY (room, seq)
) WITHOUT ROWID;
CREATE INDEX changes_by_target ON changes (target);
CREATE UNIQUE INDEX changes_by_client_id
    ON changes (client_id, actor_id) WHERE client_id IS NOT NULL;

CREATE TABLE reactions (
    message_id  TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    emoji       TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    username    TEXT NOT NULL,
    seq         INTEGER NOT NULL,  -- of the change that gave it: reactions list in that order
    PRIMARY KEY (message_id, emoji, user_id)
) WITHOUT ROWID;
"""

# Version 5: read markers, mentions and search. A message keeps the members it mentions
# (JSON `[[id, username], ...]`, NULL for none) for reading it back, and `mentions` has a
# row per mentioned member, so counting someone's mentions reads an index, not texts.
# `messages_fts` is an external-content FTS5 index of `messages.text`, kept by triggers
# whatever writes the text (an insert, an edit, a delete), and filled here with what is
# stored already. It follows the rowid of `messages`, which VACUUM may renumber (the
# table has no INTEGER PRIMARY KEY): after a VACUUM, run
# `INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')`.
_V5_READS_MENTIONS_SEARCH = """
ALTER TABLE messages ADD COLUMN mentions TEXT;
CREATE TABLE mentions (
    user_id  TEXT NOT NULL,
    room     TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (user_id, room, seq)
) WITHOUT ROWID;
CREATE TABLE read_markers (
    user_id  TEXT NOT NULL,
    room     TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq      INTEGER NOT NULL,
    PRIMARY KEY (user_id, room)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, content = 'messages', content_rowid = 'rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
    INSERT INTO messages_fts (rowid, text) VALUES (new.rowid, new.text);
END;
INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
"""

# Version 6: moderation. Roles (an owner, moderators) and restrictions (bans and mutes,
# `until_us` NULL for "until lifted") per room and account, and who blocks whose direct
# messages. Rooms made before it have no owner: the site moderators moderate them.
_V6_MODERATION = """
CREATE TABLE roles (
    room     TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user_id  TEXT NOT NULL,
    role     TEXT NOT NULL CHECK (role IN ('owner', 'moderator')),
    PRIMARY KEY (room, user_id)
) WITHOUT ROWID;
CREATE INDEX roles_by_user ON roles (user_id, room);

CREATE TABLE restrictions (
    room      TEXT NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    user_id   TEXT NOT NULL,
    kind      TEXT NOT NULL CHECK (kind IN ('ban', 'mute')),
    until_us  INTEGER,            -- microseconds since the epoch, UTC; NULL: until lifted
    PRIMARY KEY (room, user_id, kind)
) WITHOUT ROWID;
CREATE INDEX restrictions_by_user ON restrictions (user_id, kind, room);

CREATE TABLE blocks (
    user_id     TEXT NOT NULL,    -- who blocks
    blocked_id  TEXT NOT NULL,    -- whose direct messages
    PRIMARY KEY (user_id, blocked_id)
) WITHOUT ROWID;
CREATE INDEX blocks_by_blocked ON blocks (blocked_id, user_id);
"""

MIGRATIONS: tuple[str, ...] = (
    _V1_TABLES,
    _V2_ROOM_COUNTER,
    _V3_SENDERS_AND_LAST_SEEN,
    _V4_EVENT_LOG,
    _V5_READS_MENTIONS_SEARCH,
    _V6_MODERATION,
)
LATEST_VERSION = len(MIGRATIONS)


def user_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, target: int = LATEST_VERSION) -> int:
    """Bring the file up to `target` (the latest by default) and return its old version.

    `conn` must be in autocommit mode (`isolation_level=None`): each step is its own
    explicit transaction.
    """
    found: int | None = None
    while True:
        # Processes that open one file at once (`rtchat serve --workers N` on a fresh
        # file) each read the version under the write lock, so exactly one of them runs
        # each step and the others find it done.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = user_version(conn)
            if found is None:
                found = version
            if version > LATEST_VERSION:
                raise newer_schema(version, LATEST_VERSION)
            if version >= target:
                conn.execute("COMMIT")
                return found
            for statement in _statements(MIGRATIONS[version]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.rollback()
            raise


def _statements(script: str) -> list[str]:
    """`script` cut into its statements (`execute` runs one; `executescript` would commit
    the transaction the step runs in)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise ValueError(f"an unfinished statement in a migration: {pending.strip()[:60]!r}")
    return statements
