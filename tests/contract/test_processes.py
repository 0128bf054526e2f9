"""Several processes on one database (what `--workers N` and a cluster are): per-room
sequence numbers 1, 2, 3... without gaps or duplicates, and one message per clientId."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rtchat.domain.models import Room, User
from rtchat.storage import open_storage
from tests.cluster.nodes import REPO
from tests.pg import fresh_database

PROCESSES, EACH, SHARED = 3, 400, 50


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/chat.db"
        return
    async with fresh_database() as url:
        yield url


async def test_processes_appending_at_once_number_one_room_without_gaps(
    database_url: str,
) -> None:
    storage = await open_storage(database_url)
    try:
        await storage.rooms.create(Room("general"))
        for name in [*(f"p{i}" for i in range(PROCESSES)), "both"]:
            await storage.users.create(User(f"user-{name}", name), f"hash-{name}")
    finally:
        await storage.close()

    async def run(author: str) -> list[tuple[int, str, bool]]:
        out = await _python(
            "-m", "tests.contract.append_process", database_url, author, str(EACH), str(SHARED)
        )
        lines = out.split("\n")
        assert lines[-2] == "done", out
        return [(int(s), i, c == "1") for s, i, c in (ln.split() for ln in lines[:-2])]

    results = await asyncio.gather(*(run(f"p{i}") for i in range(PROCESSES)))
    total = PROCESSES * EACH + SHARED
    created = sorted(seq for rows in results for seq, _, made in rows if made)
    assert created == list(range(1, total + 1))  # no gap, no duplicate, across processes
    shared_ids = {}
    for rows in results:
        for seq, msg_id, _ in rows[EACH:]:
            shared_ids.setdefault(seq, set()).add(msg_id)
    assert len(shared_ids) == SHARED  # every process was answered the one stored message
    assert all(len(ids) == 1 for ids in shared_ids.values())

    storage = await open_storage(database_url)
    try:
        assert await storage.messages.last_seq("general") == total
        stored = await storage.messages.after("general", 0, total + 10)
        assert [m.seq for m in stored] == list(range(1, total + 1))
    finally:
        await storage.close()


_OPEN_AT = """
import asyncio, sys, time
from rtchat.storage import open_storage

async def main(url, at):
    time.sleep(max(0.0, at - time.time()))
    storage = await open_storage(url)
    await storage.close()
    print("opened", flush=True)

asyncio.run(main(sys.argv[1], float(sys.argv[2])))
"""


async def test_processes_opening_a_fresh_database_at_once_all_come_up(database_url: str) -> None:
    # What `rtchat serve --workers N` does on its first start: every worker opens (and
    # would migrate) the same new database in the same moment.
    at = time.time() + 2.0  # after every interpreter has started

    opened = await asyncio.gather(
        *(_python("-c", _OPEN_AT, database_url, str(at)) for _ in range(4))
    )
    assert opened == ["opened\n"] * 4
    storage = await open_storage(database_url)
    try:
        await storage.rooms.create(Room("general"))
        assert await storage.messages.last_seq("general") == 0
    finally:
        await storage.close()


async def _python(*args: str) -> str:
    """What `python *args` printed, run from the repository; it must exit 0."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(60):
        out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()
