"""What only the SQLite backend has: a file that survives restarts, migrations, driver errors."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import Room, User
from rtchat.ports import SearchQuery
from rtchat.storage import SqliteStorage
from rtchat.storage._common import to_micros
from rtchat.storage.sqlite_schema import LATEST_VERSION, migrate, user_version
from tests.contract.support import (
    T0,
    add_room,
    add_user,
    check_everything_survives_a_restart,
    check_old_messages_join_the_log,
    check_upgraded_to_moderation,
    draft,
)


def version_of(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return user_version(conn)


def old_file(path: Path, version: int, *rows: tuple[str, *tuple[object, ...]]) -> Path:
    """Make `path` a file of schema `version` alone holding `rows` (each a statement and
    its arguments) the way that version kept them."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert migrate(conn, target=version) == 0
        for statement, *args in rows:
            conn.execute(statement, args)
    assert version_of(path) == version
    return path


@asynccontextmanager
async def upgraded(path: Path) -> AsyncIterator[SqliteStorage]:
    """The storage opened on an old file, which opening has brought to the latest schema."""
    storage = await SqliteStorage.open(path)
    try:
        assert version_of(path) == LATEST_VERSION
        yield storage
    finally:
        await storage.close()


async def test_everything_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    await check_everything_survives_a_restart(lambda: SqliteStorage.open(path))


async def test_opening_records_the_version_and_reopening_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    for _ in range(2):
        storage = await SqliteStorage.open(path)
        await storage.close()
        assert version_of(path) == LATEST_VERSION
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        assert migrate(conn) == LATEST_VERSION  # nothing left to run


async def test_a_version_1_file_is_migrated_with_its_data(tmp_path: Path) -> None:
    path = old_file(
        tmp_path / "old.db",
        1,
        ("INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice')",),
        ("INSERT INTO users VALUES ('u0', NULL, NULL, NULL)",),  # released
        ("INSERT INTO rooms VALUES ('general', 'room', '')",),
        ("INSERT INTO members VALUES ('general', 'u1')",),
        ("INSERT INTO members VALUES ('general', 'u0')",),
        *(
            (
                "INSERT INTO messages VALUES (?, 'general', ?, 'u1', 'Alice', 'old', ?, NULL)",
                f"old-{seq}",
                seq,
                to_micros(T0),
            )
            for seq in (1, 2)
        ),
    )

    async with upgraded(path) as storage:
        assert await storage.messages.last_seq("general") == 2
        summary = await storage.rooms.summary("general")
        assert summary is not None
        assert (summary.member_count, summary.last_seq) == (1, 2)
        alice = User(id="u1", username="Alice")
        message, _ = await storage.messages.append(draft("general", alice))
        assert message.seq == 3
        latest = await storage.messages.latest("general", 3)
        assert [m.id for m in latest] == ["old-1", "old-2", message.id]
        # Version 3: old messages name no connection; accounts count as seen at the upgrade.
        assert [(m.sent_from, m.author.guest) for m in latest[:2]] == [(None, False)] * 2
        assert await storage.users.dormant(datetime.now(UTC) - timedelta(minutes=5), 5) == []
    with closing(sqlite3.connect(path)) as conn:
        # The released account kept so far is gone, with its membership.
        assert conn.execute("SELECT id FROM users").fetchall() == [("u1",)]
        assert conn.execute("SELECT user_id FROM members").fetchall() == [("u1",)]


async def test_a_version_3_file_gets_read_markers_mentions_and_search(tmp_path: Path) -> None:
    path = old_file(
        tmp_path / "v3.db",
        3,
        ("INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice', 0)",),
        ("INSERT INTO users VALUES ('u2', 'Bob', 'bob', 'hash-bob', 0)",),
        ("INSERT INTO rooms VALUES ('general', 'room', '', 2)",),
        ("INSERT INTO members VALUES ('general', 'u1'), ('general', 'u2')",),
        *(
            (
                "INSERT INTO messages VALUES (?, 'general', ?, 'u2', 'Bob', ?, ?, NULL, NULL, 0)",
                f"old-{seq}",
                seq,
                text,
                to_micros(T0) + seq,
            )
            for seq, text in ((1, "an old needle"), (2, "@alice another"))
        ),
    )

    async with upgraded(path) as storage:
        old = await storage.messages.latest("general", 5)
        assert [(m.id, m.mentions) for m in old] == [("old-1", ()), ("old-2", ())]
        found = await storage.search.search(SearchQuery("u1", ("needle",), 5))
        assert [m.id for m in found] == ["old-1"]  # what was stored is indexed
        state = await storage.reads.states("u1", ["general"])
        assert (state["general"].seq, state["general"].unread) == (0, 2)
        assert (await storage.reads.mark("u1", "general", 1))[0].unread == 1
    with closing(sqlite3.connect(path)) as conn:
        # The triggers keep the index in step with an edit of the text.
        conn.execute("UPDATE messages SET text = 'now a haystack' WHERE id = 'old-1'")
        conn.commit()
    storage = await SqliteStorage.open(path)
    try:
        for word, ids in (("needle", []), ("haystack", ["old-1"])):
            found = await storage.search.search(SearchQuery("u1", (word,), 5))
            assert [m.id for m in found] == ids
    finally:
        await storage.close()


async def test_a_version_3_file_gains_moderation_with_no_owners(tmp_path: Path) -> None:
    # Version 3 is the schema before moderation (6); the rooms it has keep no owner.
    path = old_file(
        tmp_path / "v3.db",
        3,
        ("INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice', 0)",),
        ("INSERT INTO rooms VALUES ('dev', 'room', 'old', 1)",),
        ("INSERT INTO members VALUES ('dev', 'u1')",),
        (
            "INSERT INTO messages VALUES ('old-1', 'dev', 1, 'u1', 'Alice', 'hi', ?, NULL,"
            " NULL, 0)",
            to_micros(T0),
        ),
    )

    async with upgraded(path) as storage:
        await check_upgraded_to_moderation(storage)


async def test_a_file_from_a_newer_rtchat_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    with pytest.raises(ChatError, match="newer than this rtchat knows") as caught:
        await SqliteStorage.open(path)
    assert caught.value.code is ErrorCode.INTERNAL


async def test_a_file_that_is_not_a_database_is_our_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not a database, just some bytes " * 100)
    with pytest.raises(ChatError) as caught:
        await SqliteStorage.open(path)
    assert caught.value.code is ErrorCode.INTERNAL
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


async def test_driver_errors_become_internal_and_spoil_only_their_job(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "chat.db")
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general")
        # Bypass the store's own checks to reach a constraint the driver enforces.
        with closing(sqlite3.connect(storage.path)) as conn:
            conn.execute("PRAGMA busy_timeout = 5000")
            conn.execute(
                "INSERT INTO messages (id, room, seq, author_id, author_name, text, ts_us)"
                " VALUES ('dup', 'general', 1, 'x', 'x', 'x', 0)"
            )
            conn.commit()
        with pytest.raises(ChatError) as caught:
            await storage.messages.append(draft("general", alice))  # seq 1 is taken
        assert caught.value.code is ErrorCode.INTERNAL
        assert isinstance(caught.value.__cause__, sqlite3.IntegrityError)
        # The failed append rolled back its counter bump; the store still works.
        assert await storage.messages.last_seq("general") == 0
        assert await storage.rooms.get("general") == Room(name="general")
    finally:
        await storage.close()


async def test_a_closed_storage_refuses_work(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "chat.db")
    await storage.close()
    await storage.close()  # twice is fine
    with pytest.raises(ChatError) as caught:
        await storage.rooms.get("general")
    assert caught.value.code is ErrorCode.INTERNAL


async def test_close_finishes_queued_work(tmp_path: Path) -> None:
    path = tmp_path / "chat.db"
    storage = await SqliteStorage.open(path)
    alice = await add_user(storage, "Alice")
    await add_room(storage, "general")
    pending = [
        asyncio.ensure_future(storage.messages.append(draft("general", alice))) for _ in range(50)
    ]
    await asyncio.sleep(0)  # let every append queue its job
    await storage.close()
    assert all(task.done() for task in pending)
    assert sorted(task.result()[0].seq for task in pending) == list(range(1, 51))

    storage = await SqliteStorage.open(path)
    try:
        assert await storage.messages.last_seq("general") == 50
    finally:
        await storage.close()


async def test_appends_are_committed_in_groups(tmp_path: Path) -> None:
    storage = await SqliteStorage.open(tmp_path / "chat.db")
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general")
        start = storage.batches
        await asyncio.gather(
            *(storage.messages.append(draft("general", alice)) for _ in range(500))
        )
        # The thread takes all that is waiting; 500 appends need far fewer than 500 commits.
        assert storage.batches - start < 100
    finally:
        await storage.close()


class _Escapes(BaseException):
    """Not an Exception: what a job's own error handling does not catch."""


async def test_a_broken_thread_fails_callers_instead_of_hanging(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    storage = await SqliteStorage.open(tmp_path / "chat.db")
    try:

        def explode(conn: sqlite3.Connection) -> None:
            raise _Escapes

        thread = storage._thread
        results = await asyncio.gather(
            thread.run(explode), storage.rooms.get("general"), return_exceptions=True
        )
        assert all(isinstance(r, ChatError) and r.code is ErrorCode.INTERNAL for r in results)
        with pytest.raises(ChatError):
            await storage.rooms.get("general")
        assert "The SQLite thread failed" in caplog.text
    finally:
        await storage.close()


async def test_a_version_3_file_becomes_a_log_with_its_messages(tmp_path: Path) -> None:
    path = old_file(
        tmp_path / "v3.db",
        3,
        ("INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice', 0)",),
        ("INSERT INTO rooms VALUES ('general', 'room', '', 2)",),
        *(
            (
                "INSERT INTO messages VALUES (?, 'general', ?, 'u1', 'Alice', 'old', ?, NULL,"
                " 'sid', 0)",
                f"old-{seq}",
                seq,
                to_micros(T0),
            )
            for seq in (1, 2)
        ),
    )
    async with upgraded(path) as storage:
        await check_old_messages_join_the_log(storage)
