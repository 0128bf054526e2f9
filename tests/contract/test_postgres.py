"""What only the PostgreSQL backend has: migrations, several nodes on one database, and a
server that can go away. Each test has a fresh database of its own (tests/pg.py)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import asyncpg  # type: ignore[import-untyped]
import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import ChangeDraft, ChangeKind, MessageDraft, Room, User
from rtchat.ports import SearchQuery
from rtchat.storage import PostgresStorage, open_storage
from rtchat.storage._common import to_micros
from rtchat.storage.postgres_messages import APPEND
from rtchat.storage.postgres_pool import SESSION_SETTINGS, PgConnection, PgPool
from rtchat.storage.postgres_schema import LATEST_VERSION, migrate
from tests.contract.support import (
    T0,
    add_room,
    add_user,
    check_everything_survives_a_restart,
    check_old_messages_join_the_log,
    check_upgraded_to_moderation,
    draft,
)
from tests.pg import fresh_database, server_port, through_port
from tests.proxy import CuttableProxy

# Short bounds, so that a server that hangs is found out within a second or two here.
QUICK = {"connect_timeout": 1.0, "command_timeout": 1.0}


@pytest.fixture
async def url() -> AsyncIterator[str]:
    async with fresh_database() as fresh:
        yield fresh


@pytest.fixture
async def proxy() -> AsyncIterator[CuttableProxy]:
    proxy = CuttableProxy(server_port())
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.close()


async def sql(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run `query` on a connection of its own, beside the storage under test."""
    connection = await asyncpg.connect(url)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def versions(url: str) -> list[int]:
    rows = await sql(url, "SELECT version FROM rtchat_migrations ORDER BY version")
    return [row[0] for row in rows]


async def old_database(url: str, version: int, *rows: tuple[str, *tuple[object, ...]]) -> None:
    """Bring the fresh database at `url` to schema `version` alone, then store `rows`
    (each a statement and its arguments) the way that version kept them."""
    pool = await PgPool.open(url)
    try:
        assert await pool.run(lambda connection: migrate(connection, target=version)) == 0
    finally:
        await pool.close()
    assert await versions(url) == list(range(1, version + 1))
    for statement, *args in rows:
        await sql(url, statement, *args)


@asynccontextmanager
async def upgraded(url: str) -> AsyncIterator[PostgresStorage]:
    """The storage opened on an old database, which opening has brought to the latest schema."""
    storage = await PostgresStorage.open(url)
    try:
        assert await versions(url) == list(range(1, LATEST_VERSION + 1))
        yield storage
    finally:
        await storage.close()


async def stored(url: str, room: str) -> list[tuple[int, str | None]]:
    """(seq, client_id) of every row of `room`, as the database holds them."""
    rows = await sql(url, "SELECT seq, client_id FROM messages WHERE room = $1 ORDER BY seq", room)
    return [(row[0], row[1]) for row in rows]


# --- migrations ---


async def test_a_fresh_database_is_migrated_and_reopening_changes_nothing(url: str) -> None:
    for _ in range(2):
        storage = await PostgresStorage.open(url)
        await storage.close()
        assert await versions(url) == list(range(1, LATEST_VERSION + 1))
    pool = await PgPool.open(url)
    try:
        assert await pool.run(migrate) == LATEST_VERSION  # nothing left to run
    finally:
        await pool.close()


async def test_a_version_1_database_is_migrated_with_its_data(url: str) -> None:
    await old_database(
        url,
        1,
        ("INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice')",),
        ("INSERT INTO users VALUES ('u0', NULL, NULL, NULL)",),  # released
        ("INSERT INTO rooms VALUES ('general', 'room', '')",),
        ("INSERT INTO members VALUES ('general', 'u1')",),
        ("INSERT INTO members VALUES ('general', 'u0')",),
        *(
            (
                "INSERT INTO messages (room, seq, id, author_id, author_name, text, ts_us)"
                " VALUES ('general', $1, $2, 'u1', 'Alice', 'old', $3)",
                seq,
                f"old-{seq}",
                to_micros(T0),
            )
            for seq in (1, 2)
        ),
    )

    async with upgraded(url) as storage:
        assert await storage.messages.last_seq("general") == 2
        summary = await storage.rooms.summary("general")
        assert summary is not None
        assert (summary.member_count, summary.last_seq) == (1, 2)
        alice = User(id="u1", username="Alice")
        assert await storage.users.by_token("hash-alice") == alice
        message, _ = await storage.messages.append(draft("general", alice))
        assert message.seq == 3
        latest = await storage.messages.latest("general", 3)
        assert [m.id for m in latest] == ["old-1", "old-2", message.id]
        # Version 3: old messages name no connection; accounts count as seen at the upgrade.
        assert [(m.sent_from, m.author.guest) for m in latest[:2]] == [(None, False)] * 2
        assert await storage.users.dormant(datetime.now(UTC) - timedelta(minutes=5), 5) == []
    # The released account kept so far is gone, with its membership.
    assert [tuple(r) for r in await sql(url, "SELECT id FROM users")] == [("u1",)]
    assert [tuple(r) for r in await sql(url, "SELECT user_id FROM members")] == [("u1",)]


async def test_a_version_3_database_gets_read_markers_mentions_and_search(url: str) -> None:
    await old_database(
        url,
        3,
        (
            "INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice', 0),"
            " ('u2', 'Bob', 'bob', 'hash-bob', 0)",
        ),
        ("INSERT INTO rooms VALUES ('general', 'room', '', 2)",),
        ("INSERT INTO members VALUES ('general', 'u1'), ('general', 'u2')",),
        *(
            (
                "INSERT INTO messages (room, seq, id, author_id, author_name, text, ts_us)"
                " VALUES ('general', $1, $2, 'u2', 'Bob', $3, $4)",
                seq,
                f"old-{seq}",
                text,
                to_micros(T0) + seq,
            )
            for seq, text in ((1, "an old needle"), (2, "@alice another"))
        ),
    )

    async with upgraded(url) as storage:
        old = await storage.messages.latest("general", 5)
        assert [(m.id, m.mentions) for m in old] == [("old-1", ()), ("old-2", ())]
        found = await storage.search.search(SearchQuery("u1", ("needle",), 5))
        assert [m.id for m in found] == ["old-1"]
        state = await storage.reads.states("u1", ["general"])
        assert (state["general"].seq, state["general"].unread) == (0, 2)
        assert (await storage.reads.mark("u1", "general", 1))[0].unread == 1
        await sql(url, "UPDATE messages SET text = 'now a haystack' WHERE id = 'old-1'")
        for word, ids in (("needle", []), ("haystack", ["old-1"])):
            found = await storage.search.search(SearchQuery("u1", (word,), 5))
            assert [m.id for m in found] == ids


async def test_a_version_3_database_gains_moderation_with_no_owners(url: str) -> None:
    # Version 3 is the schema before moderation (6); the rooms it has keep no owner.
    await old_database(
        url,
        3,
        ("INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice', 0)",),
        ("INSERT INTO rooms VALUES ('dev', 'room', 'old', 1)",),
        ("INSERT INTO members VALUES ('dev', 'u1')",),
        (
            "INSERT INTO messages (room, seq, id, author_id, author_name, text, ts_us)"
            " VALUES ('dev', 1, 'old-1', 'u1', 'Alice', 'hi', $1)",
            to_micros(T0),
        ),
    )

    async with upgraded(url) as storage:
        await check_upgraded_to_moderation(storage)


async def test_nodes_starting_together_migrate_once(url: str) -> None:
    # Without the lock they would all find version 0 and run every step: the later ones
    # would fail on tables that exist already.
    opened = await asyncio.gather(*(PostgresStorage.open(url) for _ in range(4)))
    try:
        assert await versions(url) == list(range(1, LATEST_VERSION + 1))
        alice = await add_user(opened[0], "Alice")
        await add_room(opened[1], "general")
        message, _ = await opened[2].messages.append(draft("general", alice))
        assert message.seq == 1
    finally:
        for storage in opened:
            await storage.close()


async def test_a_database_from_a_newer_rtchat_is_refused(url: str) -> None:
    storage = await PostgresStorage.open(url)
    await storage.close()
    await sql(url, "INSERT INTO rtchat_migrations (version) VALUES ($1)", LATEST_VERSION + 1)
    with pytest.raises(ChatError, match="newer than this rtchat knows") as caught:
        await PostgresStorage.open(url)
    assert caught.value.code is ErrorCode.INTERNAL
    with pytest.raises(ValueError, match="Cannot open the PostgreSQL database at") as refused:
        await open_storage(url)
    assert f"schema version {LATEST_VERSION + 1}" in str(refused.value)


# --- opening ---


async def test_open_storage_takes_both_url_schemes(url: str) -> None:
    for scheme in ("postgresql://", "postgres://"):
        storage = await open_storage(url.replace("postgresql://", scheme, 1))
        try:
            assert isinstance(storage, PostgresStorage)
            assert storage.healthy()
        finally:
            await storage.close()


async def test_a_server_that_cannot_be_reached_stops_start_up_in_one_sentence(
    proxy: CuttableProxy,
) -> None:
    proxy.down = True  # accepts and drops: the server "went away"
    with pytest.raises(ValueError, match="Cannot reach PostgreSQL at") as caught:
        await open_storage(f"postgresql://postgres@127.0.0.1:{proxy.port}/test")
    message = str(caught.value)
    assert f"127.0.0.1:{proxy.port}" in message
    assert message.endswith(".")
    assert "\n" not in message
    await proxy.close()  # now nothing listens there at all
    with pytest.raises(ValueError, match="connection refused"):
        await open_storage(f"postgresql://postgres@127.0.0.1:{proxy.port}/test")


async def test_a_port_that_is_not_a_number_is_an_unsupported_url() -> None:
    with pytest.raises(ValueError, match="Unsupported database URL"):
        await open_storage("postgresql://postgres@127.0.0.1:five/test")


async def test_a_database_that_does_not_exist_is_named(url: str) -> None:
    missing = url.rsplit("/", 1)[0] + "/rtchat_no_such_database"
    with pytest.raises(ValueError, match='database "rtchat_no_such_database" does not exist'):
        await open_storage(missing)


# --- several nodes ---


async def test_a_version_3_database_becomes_a_log_with_its_messages(url: str) -> None:
    await old_database(
        url,
        3,
        ("INSERT INTO users VALUES ('u1', 'Alice', 'alice', 'hash-alice', 0)",),
        ("INSERT INTO rooms VALUES ('general', 'room', '', 2)",),
        *(
            (
                "INSERT INTO messages (room, seq, id, author_id, author_name, text, ts_us,"
                " sent_from) VALUES ('general', $1, $2, 'u1', 'Alice', 'old', $3, 'sid')",
                seq,
                f"old-{seq}",
                to_micros(T0),
            )
            for seq in (1, 2)
        ),
    )
    async with upgraded(url) as storage:
        await check_old_messages_join_the_log(storage)


async def test_two_nodes_changing_one_message_share_one_numbering(url: str) -> None:
    nodes = [await PostgresStorage.open(url) for _ in range(2)]
    try:
        users = [await add_user(nodes[0], f"U{i}") for i in range(20)]
        await add_room(nodes[0], "general")
        message, _ = await nodes[0].messages.append(draft("general", users[0]))
        # Each user reacts twice, once through each node: one of the two counts.
        results = await asyncio.gather(
            *(
                nodes[copy].messages.change(
                    ChangeDraft("general", message.id, user, ChangeKind.REACT, T0, "👍")
                )
                for user in users
                for copy in range(2)
            ),
            *(nodes[i % 2].messages.append(draft("general", users[0])) for i in range(20)),
        )
        assert len(results) == 60
        entries = await nodes[1].messages.after("general", 0, 100)
        assert [e.seq for e in entries] == list(range(1, 42))
        now = await nodes[1].messages.get("general", message.id)
        assert now is not None
        assert now.reactions[0].count == 20
    finally:
        for node in nodes:
            await node.close()


async def test_two_nodes_appending_to_one_room_share_one_numbering(url: str) -> None:
    nodes = [await PostgresStorage.open(url) for _ in range(2)]
    try:
        alice = await add_user(nodes[0], "Alice")
        await add_room(nodes[0], "general", alice)
        results = await asyncio.gather(
            *(nodes[i % 2].messages.append(draft("general", alice, f"m{i}")) for i in range(2000))
        )
        assert all(created for _, created in results)
        assert sorted(message.seq for message, _ in results) == list(range(1, 2001))
        assert [seq for seq, _ in await stored(url, "general")] == list(range(1, 2001))
        for node in nodes:
            assert await node.messages.last_seq("general") == 2000
            # Both nodes batched: 1,000 appends each in far fewer statements.
            assert node.batches < 500
    finally:
        for node in nodes:
            await node.close()


async def test_retries_racing_on_two_nodes_store_one_message(url: str) -> None:
    nodes = [await PostgresStorage.open(url) for _ in range(2)]
    try:
        alice = await add_user(nodes[0], "Alice")
        await add_room(nodes[0], "general", alice)
        # Every client id sent to both nodes at once, several times over.
        results = await asyncio.gather(
            *(
                nodes[copy % 2].messages.append(draft("general", alice, client_id=f"c{n}"))
                for n in range(100)
                for copy in range(4)
            )
        )
        by_client: dict[str | None, set[tuple[int, str]]] = {}
        for message, _ in results:
            by_client.setdefault(message.client_id, set()).add((message.seq, message.id))
        assert all(len(answers) == 1 for answers in by_client.values())  # one message each
        assert sum(created for _, created in results) == 100
        rows = await stored(url, "general")
        assert [seq for seq, _ in rows] == list(range(1, 101))
        assert sorted(client_id or "" for _, client_id in rows) == sorted(
            f"c{n}" for n in range(100)
        )
    finally:
        for node in nodes:
            await node.close()


async def test_a_name_claimed_on_two_nodes_at_once_goes_to_one(url: str) -> None:
    nodes = [await PostgresStorage.open(url) for _ in range(2)]
    try:
        results = await asyncio.gather(
            *(
                nodes[i].users.create(User(id=f"u{i}", username=name), token_hash=f"h{i}")
                for i, name in enumerate(["Alice", "ALICE"])
            ),
            return_exceptions=True,
        )
        failures = [r for r in results if isinstance(r, ChatError)]
        assert [f.code for f in failures] == [ErrorCode.USERNAME_TAKEN]
        owner = await nodes[1].users.by_name("alice")
        assert owner is not None
        assert owner == await nodes[0].users.by_name("Alice")
    finally:
        for node in nodes:
            await node.close()


# --- a server that goes away ---


async def _append_until_done(
    storage: PostgresStorage, drafts: list[MessageDraft], attempts: int
) -> list[tuple[int, bool]]:
    """Append each draft, retrying `unavailable` as a client would; (seq, created) each."""
    answers = []
    for item in drafts:
        for _ in range(attempts):
            try:
                message, created = await storage.messages.append(item)
            except ChatError as error:
                if error.code is not ErrorCode.UNAVAILABLE:
                    raise
                await asyncio.sleep(0.05)  # a client's back-off, not a wait for a state
                continue
            answers.append((message.seq, created))
            break
        else:
            raise AssertionError(f"{item.client_id} never got through")
    return answers


async def test_a_cut_connection_is_unavailable_then_heals_without_gaps(
    url: str, proxy: CuttableProxy
) -> None:
    storage = await PostgresStorage.open(through_port(url, proxy.port), **QUICK)
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general", alice)
        drafts = [draft("general", alice, client_id=f"c{n}") for n in range(400)]
        outcomes: list[str] = []

        async def sender(mine: list[MessageDraft]) -> None:
            for item in mine:
                try:
                    await storage.messages.append(item)
                except ChatError as error:
                    outcomes.append(str(error.code))
                    if outcomes.count(str(ErrorCode.UNAVAILABLE)) >= 20 and proxy.down:
                        assert not storage.healthy()
                        proxy.down = False
                    continue
                outcomes.append("stored")
                if outcomes.count("stored") == 100:
                    # Appends of the other senders are on their way: cut under them.
                    proxy.down = True
                    proxy.cut()

        await asyncio.gather(*(sender(drafts[i::4]) for i in range(4)))
        assert set(outcomes) == {"stored", str(ErrorCode.UNAVAILABLE)}
        assert outcomes.count(str(ErrorCode.UNAVAILABLE)) >= 20

        # Clients resend what was not acknowledged, and some of it was stored after all
        # (its answer was lost with the link): the client id makes that a no-op.
        answers = await _append_until_done(storage, drafts, attempts=20)
        assert storage.healthy()
        assert sorted(seq for seq, _ in answers) == list(range(1, 401))
        rows = await stored(url, "general")
        assert [seq for seq, _ in rows] == list(range(1, 401))  # no gap, nothing twice
        assert sorted(client_id or "" for _, client_id in rows) == sorted(
            d.client_id or "" for d in drafts
        )
        # Every other kind of request is back too.
        assert await storage.rooms.members("general", 100) == [alice]
    finally:
        await storage.close()


async def test_a_server_that_stops_answering_is_unavailable_within_the_timeout(
    url: str, proxy: CuttableProxy
) -> None:
    storage = await PostgresStorage.open(through_port(url, proxy.port), **QUICK)
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general", alice)
        first, _ = await storage.messages.append(draft("general", alice, client_id="c1"))
        assert storage.healthy()

        proxy.freeze()
        hung = draft("general", alice, client_id="c2")
        for request in (storage.messages.append(hung), storage.rooms.get("general")):
            started = time.monotonic()
            with pytest.raises(ChatError) as caught:
                await request
            assert caught.value.code is ErrorCode.UNAVAILABLE
            # Bounded by the command (or connect) timeout of 1 s, far from a hang.
            assert time.monotonic() - started < 10
            assert not storage.healthy()

        proxy.thaw()
        again, _ = await storage.messages.append(hung)
        assert storage.healthy()
        after, created = await storage.messages.append(draft("general", alice, client_id="c3"))
        assert created
        assert (first.seq, again.seq, after.seq) == (1, 2, 3)
        assert [seq for seq, _ in await stored(url, "general")] == [1, 2, 3]
    finally:
        await storage.close()


async def test_waiting_for_a_busy_pool_is_not_a_failure(url: str) -> None:
    # One connection, a connect timeout far below the time the queue takes to drain:
    # requests wait their turn as long as the load makes them; none of them fails.
    storage = await PostgresStorage.open(url, pool_size=1, connect_timeout=0.05)
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general", alice)
        pages = await asyncio.gather(*(storage.rooms.members("general", 100) for _ in range(300)))
        assert all(page == [alice] for page in pages)
        assert storage.healthy()
    finally:
        await storage.close()


async def test_requests_waiting_behind_a_dead_server_fail_together(
    url: str, proxy: CuttableProxy
) -> None:
    storage = await PostgresStorage.open(through_port(url, proxy.port), pool_size=2, **QUICK)
    try:
        proxy.freeze()
        started = time.monotonic()
        results = await asyncio.gather(
            *(storage.rooms.get("general") for _ in range(40)), return_exceptions=True
        )
        assert all(isinstance(r, ChatError) and r.code is ErrorCode.UNAVAILABLE for r in results)
        # Two at a time, each waiting out its 1 s timeout, would take 20 s: the first
        # failure answers everyone waiting behind it.
        assert time.monotonic() - started < 10
        proxy.thaw()
        assert await storage.rooms.get("general") is None
    finally:
        await storage.close()


async def test_healthy_follows_the_last_request(url: str, proxy: CuttableProxy) -> None:
    storage = await PostgresStorage.open(through_port(url, proxy.port), **QUICK)
    try:
        assert storage.healthy()
        proxy.down = True
        proxy.cut()
        with pytest.raises(ChatError) as caught:
            await storage.rooms.get("general")
        assert caught.value.code is ErrorCode.UNAVAILABLE
        assert not storage.healthy()
        proxy.down = False
        assert await storage.rooms.get("general") is None
        assert storage.healthy()
    finally:
        await storage.close()
    assert not storage.healthy()  # closed


# --- the rest of the store's own behaviour ---


async def test_everything_survives_a_restart(url: str) -> None:
    await check_everything_survives_a_restart(lambda: PostgresStorage.open(url))


async def test_driver_errors_become_internal_and_spoil_only_their_append(url: str) -> None:
    storage = await PostgresStorage.open(url)
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general")
        await add_room(storage, "other")
        # Bypass the counter to reach a constraint only the database enforces.
        await sql(
            url,
            "INSERT INTO messages (room, seq, id, author_id, author_name, text, ts_us)"
            " VALUES ('general', 1, 'dup', 'x', 'x', 'x', 0)",
        )
        results = await asyncio.gather(
            storage.messages.append(draft("general", alice)),  # seq 1 is taken
            storage.messages.append(draft("other", alice)),
            return_exceptions=True,
        )
        assert isinstance(results[0], ChatError)
        assert results[0].code is ErrorCode.INTERNAL
        assert not isinstance(results[1], BaseException)
        assert results[1][0].seq == 1
        # The failed append took its counter bump back with it; the store still works.
        assert await storage.messages.last_seq("general") == 0
        assert await storage.rooms.get("general") == Room(name="general")
        assert storage.healthy()  # the server answered: nothing to do with reachability
    finally:
        await storage.close()


@pytest.mark.parametrize("messages", [0, 60])
async def test_the_append_is_planned_as_index_probes_on_a_young_database(
    url: str, messages: int
) -> None:
    # The plan a connection makes first is the one it keeps. Made while `messages` is
    # small, it must still look rows up by index, not scan the table it will grow into:
    # whether the table was never analyzed (empty) or analyzed while it was tiny.
    storage = await PostgresStorage.open(url)
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general")
        for _ in range(messages):
            await storage.messages.append(draft("general", alice, client_id=None))
    finally:
        await storage.close()
    if messages:
        await sql(url, "ANALYZE messages")
    connection = await asyncpg.connect(url, server_settings=SESSION_SETTINGS)
    try:
        statement = await connection.prepare(APPEND)
        # A generic plan, whatever the arguments: the one every later batch runs.
        plan = await statement.explain(
            ["i"], ["r"], ["a"], ["A"], ["t"], [0], ["c"], ["s"], [False], [None], ["alice"], [1]
        )
    finally:
        await connection.close()
    scans = []

    def walk(node: dict[str, object]) -> None:
        looked_up = node.get("Relation Name") in {"messages", "users", "members"}
        if looked_up and "Operation" not in node:  # not the INSERT
            scans.append(node["Node Type"])
        for child in node.get("Plans", []):  # type: ignore[attr-defined]
            walk(child)

    walk(plan[0]["Plan"])
    assert scans
    assert set(scans) <= {"Index Scan", "Index Only Scan"}, scans


async def test_a_failing_write_in_a_batch_undoes_only_itself(url: str) -> None:
    storage = await PostgresStorage.open(url)
    other_node = await PostgresStorage.open(url)
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general")
        # Queued together, so run as one transaction: each write under a savepoint.
        before = storage.batches
        results = await asyncio.gather(
            storage.users.create(User(id="u2", username="Bob"), token_hash="h2"),
            storage.users.create(User(id="u3", username="ALICE"), token_hash="h3"),
            storage.rooms.add_member("general", "u2"),
            storage.messages.append(draft("general", alice)),
            storage.messages.append(draft("nowhere", alice)),
            storage.rooms.create(Room(name="team"), ("u2", "nobody")),
            storage.rooms.add_member("general", alice.id),
            return_exceptions=True,
        )
        codes = [r.code if isinstance(r, ChatError) else None for r in results]
        assert codes == [
            None,
            ErrorCode.USERNAME_TAKEN,
            None,
            None,
            ErrorCode.ROOM_NOT_FOUND,
            ErrorCode.USER_NOT_FOUND,
            None,
        ]
        assert storage.batches - before == 1
        # Committed, as another node sees it: everything but the failures.
        bob = User(id="u2", username="Bob")
        assert await other_node.rooms.members("general", 100) == [alice, bob]
        assert await other_node.users.by_id("u3") is None
        assert await other_node.rooms.get("team") is None
        assert await other_node.messages.last_seq("general") == 1
    finally:
        await storage.close()
        await other_node.close()


async def test_a_transaction_spoiled_by_a_caught_failure_is_not_reported_committed(
    url: str,
) -> None:
    pool = await PgPool.open(url)
    try:

        async def spoiled(connection: PgConnection) -> None:
            async with connection.transaction():
                await connection.execute("CREATE TABLE kept (n int)")
                with pytest.raises(ChatError):
                    await connection.execute("SELECT 1 / 0")  # outside any savepoint

        with pytest.raises(ChatError, match="undid the transaction"):
            await pool.run(spoiled)
        assert await pool.run(lambda c: c.fetchval("SELECT to_regclass('kept')")) is None
    finally:
        await pool.close()


async def test_appends_are_stored_in_groups(url: str) -> None:
    storage = await PostgresStorage.open(url)
    try:
        alice = await add_user(storage, "Alice")
        await add_room(storage, "general")
        start = storage.batches
        await asyncio.gather(
            *(storage.messages.append(draft("general", alice)) for _ in range(500))
        )
        assert storage.batches - start < 100
    finally:
        await storage.close()


async def test_close_finishes_queued_writes_then_refuses_work(url: str) -> None:
    storage = await PostgresStorage.open(url)
    alice = await add_user(storage, "Alice")
    await add_room(storage, "general")
    pending = [
        asyncio.ensure_future(storage.messages.append(draft("general", alice))) for _ in range(50)
    ]
    await asyncio.sleep(0)  # let every append queue itself
    await storage.close()
    await storage.close()  # twice is fine
    assert all(task.done() for task in pending)
    assert sorted(task.result()[0].seq for task in pending) == list(range(1, 51))
    for request in (storage.rooms.get("general"), storage.messages.append(draft("general", alice))):
        with pytest.raises(ChatError) as caught:
            await request
        assert caught.value.code is ErrorCode.INTERNAL
