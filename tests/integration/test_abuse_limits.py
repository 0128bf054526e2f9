"""What one client or one address may take from a real server: joins and room creations
by address and account, names through renames, pages of rooms, `sync` over many
spellings, and the accounts that never return."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rtchat.domain.models import Room, User
from rtchat.service import MEMBERS_LISTED, ROOMS_PAGE
from rtchat.settings import Settings
from rtchat.storage import SqliteStorage, sqlite_path
from tests.support import WAIT, ChatClient, Connect, error_code, ok, running_server


@pytest.fixture
async def serve(settings: Settings) -> AsyncIterator[Any]:
    """`await serve(**changes)`: a server with these settings changed, and a connect
    function for it; everything is closed after the test."""
    async with AsyncExitStack() as stack:

        async def start(**changes: Any) -> Connect:
            url, _ = await stack.enter_async_context(
                running_server(dataclasses.replace(settings, **changes))
            )

            async def connect(**options: Any) -> ChatClient:
                client = await ChatClient(url, **options).connect()
                stack.push_async_callback(_close, client)
                return client

            return connect

        yield start


async def _close(client: ChatClient) -> None:
    if client.sio.connected:
        await client.close()


async def test_joins_from_one_address_are_limited(serve: Any) -> None:
    connect = await serve(joins_per_minute=4)
    clients = [await connect(transports=["polling"] if i % 2 else None) for i in range(5)]
    for i, client in enumerate(clients[:3]):
        await client.join(f"user{i}")
    await clients[0].join("renamed")  # a rename is a join too: the fourth
    answer = await clients[3].call("user-joined", "user3")
    assert error_code(answer) == "rate_limited"
    assert "address" in answer["error"]["message"]
    assert ok(await clients[3].call("session"))["user"] is None
    # Without a callback, as the seed's client joins, the refusal is an `error` event.
    await clients[4].sio.emit("user-joined", "user4")
    refused = await clients[4].wait_for("error")
    assert refused["code"] == "rate_limited"


async def test_room_creation_is_limited_per_account_and_per_address(serve: Any) -> None:
    connect = await serve(rooms_per_hour=2, rooms_per_hour_per_address=3)
    one, two = await connect(), await connect()
    await one.join("one")
    await two.join("two")
    for name in ("a1", "a2"):
        ok(await one.call("create-room", {"name": name}))
    assert error_code(await one.call("create-room", {"name": "a3"})) == "rate_limited"
    ok(await two.call("create-room", {"name": "b1"}))  # the address's third
    assert error_code(await two.call("create-room", {"name": "b2"})) == "rate_limited"
    names = [r["name"] for r in ok(await two.call("list-rooms"))["rooms"]]
    assert names == ["a1", "a2", "b1", "general"]


async def test_renames_release_every_old_name(serve: Any, settings: Settings) -> None:
    # No event rate limit either: 300 renames in a row are a flood by its measure.
    connect = await serve(joins_per_minute=0, rate_limit=0)
    renamer, other = await connect(), await connect()
    for i in range(300):
        await renamer.join(f"name{i}")
    # Every earlier name is free at once, for anyone, as an account.
    for i in (0, 150, 298):
        taken = ok(await other.call("user-joined", {"username": f"name{i}", "guest": False}))
        assert taken["user"]["guest"] is False
    path = sqlite_path(settings.database_url)
    assert path is not None
    with closing(sqlite3.connect(path)) as db:
        (rows,) = db.execute("SELECT count(*) FROM users").fetchone()
    assert rows == 2  # the renamer's last name and the other's, not one row per rename


async def test_list_rooms_comes_in_pages(serve: Any) -> None:
    connect = await serve(rooms_per_hour=0, rooms_per_hour_per_address=0, rate_limit=0)
    maker = await connect()
    await maker.join("maker")
    names = [f"room-{i:03d}" for i in range(ROOMS_PAGE + 20)]
    for name in names:
        ok(await maker.call("create-room", {"name": name}))
    everything = ["general", *names]
    old_style = ok(await maker.call("list-rooms"))  # no payload, as clients asked before
    assert [r["name"] for r in old_style["rooms"]] == sorted(everything)[:ROOMS_PAGE]
    assert old_style["next"] == sorted(everything)[ROOMS_PAGE - 1]
    seen, after = [], ""
    while after is not None:
        page = ok(await maker.call("list-rooms", {"after": after, "limit": 50}))
        seen += [r["name"] for r in page["rooms"]]
        after = page["next"]
    assert seen == sorted(everything)


async def test_sync_with_many_spellings_of_a_room_reads_it_once(clients: Connect) -> None:
    alice = await clients()
    await alice.join("alice")
    ok(await alice.call("create-room", {"name": "dev"}))
    sent = [
        ok(await alice.call("send-message", {"room": "dev", "text": f"m{i}"})) for i in range(3)
    ]
    spellings = {
        " " * (i % 5) + "dEV"[: i % 3] + "dev"[i % 3 :] + " " * (i % 7) for i in range(200)
    }
    answer = ok(await alice.call("sync", {"rooms": {s: 1 for s in spellings} | {"DEV": 0}}))
    assert list(answer["rooms"]) == ["dev"]
    assert answer["rooms"]["dev"] == {"messages": sent, "hasMore": False, "seq": sent[-1]["seq"]}


async def test_an_account_unseen_for_the_retention_is_removed_when_a_node_starts(
    settings: Settings,
) -> None:
    path = sqlite_path(settings.database_url)
    assert path is not None
    storage = await SqliteStorage.open(path)
    try:
        long_ago = datetime.now(UTC) - timedelta(days=40)
        await storage.users.create(User("u-old", "oldtimer"), "hash-old", seen=long_ago)
        await storage.users.create(User("u-new", "newcomer"), "hash-new")
    finally:
        await storage.close()
    async with running_server(settings) as (url, _):
        client = await ChatClient(url).connect()
        try:
            # The clean-up runs in the background soon after the start: wait for it, bounded.
            async with asyncio.timeout(WAIT):
                while True:
                    answer = await client.call(
                        "user-joined", {"username": "oldtimer", "guest": False}
                    )
                    if answer["ok"]:
                        break
                    assert error_code(answer) == "username_taken"
                    await asyncio.sleep(0.1)
            taken = await client.call("user-joined", {"username": "newcomer", "guest": False})
            assert error_code(taken) == "username_taken"  # 0 days old: kept
        finally:
            await client.close()
    check = await SqliteStorage.open(Path(path))
    try:
        assert await check.users.by_token("hash-old") is None
    finally:
        await check.close()


async def test_a_big_room_lists_its_first_members_and_who_is_online(settings: Settings) -> None:
    path = sqlite_path(settings.database_url)
    assert path is not None
    storage = await SqliteStorage.open(path)
    try:
        accounts = [User(f"u{i}", f"member{i:03d}") for i in range(MEMBERS_LISTED + 50)]
        for account in accounts:
            await storage.users.create(account, f"hash-{account.id}")
        await storage.rooms.create(Room("general"), tuple(a.id for a in accounts))
    finally:
        await storage.close()
    async with running_server(settings) as (url, _):
        alice = await ChatClient(url).connect()
        guest = await ChatClient(url).connect()
        try:
            await alice.join("alice")
            assert (await guest.join("member000"))["user"]["guest"] is True  # held at start
            opened = ok(await alice.call("join-room", {"room": "general"}))
            names = [m["username"] for m in opened["members"]]
            assert names == sorted([a.username for a in accounts] + ["alice"])[:MEMBERS_LISTED]
            assert opened["room"]["memberCount"] == len(accounts) + 1
            online = ok(await alice.call("list-online", {"room": "general"}))["users"]
            assert sorted((u["username"], u["guest"]) for u in online) == [
                ("alice", False),
                ("member000", True),
            ]
        finally:
            await alice.close()
            await guest.close()
