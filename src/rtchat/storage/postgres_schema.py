"""The PostgreSQL schema as a list of migrations; `rtchat_migrations` records which ran.

The versions are `sqlite_schema`'s, step for step: one number means the same tables in
both backends. Append new scripts to `MIGRATIONS`; never edit one that has shipped. Each
step runs in one transaction with its row in `rtchat_migrations`, under an advisory lock,
so nodes starting together migrate once: the first takes the lock and runs the step, the
others wait for it and then find nothing left to do.

Text keys are `COLLATE "C"`: ordered by code point, as the memory and SQLite backends
order them, whatever the database's own collation is.
"""

from __future__ import annotations

from rtchat.storage._common import newer_schema
from rtchat.storage.postgres_pool import PgConnection

_V1_TABLES = """
CREATE TABLE users (
    id          text COLLATE "C" PRIMARY KEY,
    username    text,                                     -- NULL once released
    name_key    text COLLATE "C" CONSTRAINT users_name_key UNIQUE,   -- casefolded
    token_hash  text COLLATE "C" CONSTRAINT users_token_hash UNIQUE  -- never the token
);

CREATE TABLE rooms (
    name   text COLLATE "C" PRIMARY KEY,
    kind   text NOT NULL CHECK (kind IN ('room', 'dm')),
    topic  text NOT NULL DEFAULT ''
);

CREATE TABLE members (
    room     text COLLATE "C" NOT NULL
             CONSTRAINT members_room_fkey REFERENCES rooms (name) ON DELETE CASCADE,
    user_id  text COLLATE "C" NOT NULL CONSTRAINT members_user_fkey REFERENCES users (id),
    PRIMARY KEY (room, user_id)
);
CREATE INDEX members_by_user ON members (user_id, room);

-- author_name is the name when the message was written: released users lose theirs.
-- No foreign key on author_id, so history never depends on the users table.
CREATE TABLE messages (
    room         text COLLATE "C" NOT NULL
                 CONSTRAINT messages_room_fkey REFERENCES rooms (name) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    id           text COLLATE "C" NOT NULL CONSTRAINT messages_id UNIQUE,
    author_id    text COLLATE "C" NOT NULL,
    author_name  text NOT NULL,
    text         text NOT NULL,
    ts_us        bigint NOT NULL,   -- microseconds since the epoch, UTC
    client_id    text COLLATE "C",
    PRIMARY KEY (room, seq)
);
CREATE UNIQUE INDEX messages_by_client_id
    ON messages (client_id, author_id) WHERE client_id IS NOT NULL;
"""

# A counter on the room gives the next sequence number with one row update, whose row
# lock is also what keeps two nodes from taking the same number.
_V2_ROOM_COUNTER = """
ALTER TABLE rooms ADD COLUMN last_seq bigint NOT NULL DEFAULT 0;
UPDATE rooms SET last_seq = coalesce(
    (SELECT max(seq) FROM messages WHERE messages.room = rooms.name), 0
);
"""

# Version 3, as in SQLite: the connection each message was sent from and whether its
# author was a guest; when each account was last seen; released accounts deleted (a
# release deletes from now on). Both new message columns are added without a rewrite.
_V3_SENDERS_AND_LAST_SEEN = """
ALTER TABLE messages ADD COLUMN sent_from text COLLATE "C";
ALTER TABLE messages ADD COLUMN author_guest boolean NOT NULL DEFAULT false;
DELETE FROM members WHERE user_id IN (SELECT id FROM users WHERE username IS NULL);
DELETE FROM users WHERE username IS NULL;
ALTER TABLE users ADD COLUMN last_seen bigint NOT NULL DEFAULT 0;  -- seconds since the epoch
UPDATE users SET last_seen = extract(epoch FROM now())::bigint;
CREATE INDEX users_by_last_seen ON users (last_seen);
"""

# Version 4, as in SQLite: a room is a log of events. Message rows keep their current
# state; edits, deletes and reactions are entries of `changes`, numbered by the same
# `rooms.last_seq`; `reactions` holds who gave which emoji now. Columns added without a
# rewrite (no volatile defaults).
_V4_EVENT_LOG = """
ALTER TABLE messages ADD COLUMN reply_to text COLLATE "C";
ALTER TABLE messages ADD COLUMN edited_us bigint;
ALTER TABLE messages ADD COLUMN deleted boolean NOT NULL DEFAULT false;

CREATE TABLE changes (
    room         text COLLATE "C" NOT NULL
                 CONSTRAINT changes_room_fkey REFERENCES rooms (name) ON DELETE CASCADE,
    seq          bigint NOT NULL,
    target       text COLLATE "C" NOT NULL,   -- the id of the message it changes
    kind         text NOT NULL CHECK (kind IN ('edit', 'delete', 'react', 'unreact')),
    actor_id     text COLLATE "C" NOT NULL,
    actor_name   text NOT NULL,
    actor_guest  boolean NOT NULL DEFAULT false,
    value        text NOT NULL,   -- an edit's text (emptied by a delete), a reaction's emoji
    ts_us        bigint NOT NULL,
    client_id    text COLLATE "C",
    count        integer NOT NULL DEFAULT 0,  -- a reaction's givers once it was made
    PRIMARY KEY (room, seq)
);
CREATE INDEX changes_by_target ON changes (target);
CREATE UNIQUE INDEX changes_by_client_id
    ON changes (client_id, actor_id) WHERE client_id IS NOT NULL;

CREATE TABLE reactions (
    message_id  text COLLATE "C" NOT NULL
                CONSTRAINT reactions_message_fkey REFERENCES messages (id) ON DELETE CASCADE,
    emoji       text NOT NULL,
    user_id     text COLLATE "C" NOT NULL,
    username    text NOT NULL,
    seq         bigint NOT NULL,  -- of the change that gave it: reactions list in that order
    PRIMARY KEY (message_id, emoji, user_id)
);
"""

# Version 5, as in SQLite: read markers, mentions (kept beside the message as JSON text, and
# a row per mentioned member for counting) and search: a GIN index on the 'simple'
# configuration's tsvector of the text (an expression index: a query must spell the same
# expression to use it), built here over what is stored already. An edit of the text is
# indexed as any update.
_V5_READS_MENTIONS_SEARCH = """
ALTER TABLE messages ADD COLUMN mentions text;
CREATE TABLE mentions (
    user_id  text COLLATE "C" NOT NULL,
    room     text COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq      bigint NOT NULL,
    PRIMARY KEY (user_id, room, seq)
);
CREATE TABLE read_markers (
    user_id  text COLLATE "C" NOT NULL,
    room     text COLLATE "C" NOT NULL REFERENCES rooms (name) ON DELETE CASCADE,
    seq      bigint NOT NULL,
    PRIMARY KEY (user_id, room)
);
CREATE INDEX messages_search ON messages USING gin (to_tsvector('simple', text));
"""

# Version 6, as in SQLite: moderation. Roles and restrictions (bans and mutes, `until_us`
# NULL for "until lifted") per room and account; who blocks whose direct messages. Rooms
# made before it have no owner: the site moderators moderate them.
_V6_MODERATION = """
CREATE TABLE roles (
    room     text COLLATE "C" NOT NULL
             CONSTRAINT roles_room_fkey REFERENCES rooms (name) ON DELETE CASCADE,
    user_id  text COLLATE "C" NOT NULL,
    role     text NOT NULL CHECK (role IN ('owner', 'moderator')),
    PRIMARY KEY (room, user_id)
);
CREATE INDEX roles_by_user ON roles (user_id, room);

CREATE TABLE restrictions (
    room      text COLLATE "C" NOT NULL
              CONSTRAINT restrictions_room_fkey REFERENCES rooms (name) ON DELETE CASCADE,
    user_id   text COLLATE "C" NOT NULL,
    kind      text NOT NULL CHECK (kind IN ('ban', 'mute')),
    until_us  bigint,             -- microseconds since the epoch, UTC; NULL: until lifted
    PRIMARY KEY (room, user_id, kind)
);
CREATE INDEX restrictions_by_user ON restrictions (user_id, kind, room);

CREATE TABLE blocks (
    user_id     text COLLATE "C" NOT NULL,   -- who blocks
    blocked_id  text COLLATE "C" NOT NULL,   -- whose direct messages
    PRIMARY KEY (user_id, blocked_id)
);
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

MIGRATION_LOCK = 0x72746368_6D696772  # "rtchmigr": one advisory lock key per database
MIGRATION_TIMEOUT = 300.0
"""Seconds one step (or the wait for another node's step) may take: rewriting a large
table takes longer than any request may, so the command timeout does not apply."""

_VERSIONS_TABLE = """
CREATE TABLE IF NOT EXISTS rtchat_migrations (
    version     integer PRIMARY KEY,
    applied_at  timestamptz NOT NULL DEFAULT now()
)
"""


async def schema_version(connection: PgConnection) -> int:
    """The version the database is at; 0 for one rtchat never opened."""
    exists = await connection.fetchval("SELECT to_regclass('rtchat_migrations') IS NOT NULL")
    if not exists:
        return 0
    return int(await connection.fetchval("SELECT coalesce(max(version), 0) FROM rtchat_migrations"))


async def migrate(connection: PgConnection, target: int = LATEST_VERSION) -> int:
    """Bring the database up to `target` (the latest by default) and return its old version.

    Raises:
        ChatError: `internal` if the database is newer than this code knows, or a step
            failed (nothing of that step is kept); `unavailable` if the server went away.
    """
    found: int | None = None
    while True:
        async with connection.transaction():
            # Held until this step commits; a node waiting here re-reads the version after.
            await connection.execute(
                "SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK, within=MIGRATION_TIMEOUT
            )
            await connection.execute(_VERSIONS_TABLE)
            version = await schema_version(connection)
            if found is None:
                found = version
            if version > LATEST_VERSION:
                raise newer_schema(version, LATEST_VERSION)
            if version >= target:
                return found
            await connection.execute(MIGRATIONS[version], within=MIGRATION_TIMEOUT)
            await connection.execute(
                "INSERT INTO rtchat_migrations (version) VALUES ($1)", version + 1
            )
