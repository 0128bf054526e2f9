"""One fresh storage per test, of each kind: every test in this folder runs against all.

PostgreSQL's is in a schema of its own on the test server (tests/pg.py), dropped after.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rtchat.domain.models import User
from rtchat.ports import Storage
from rtchat.redislink import RedisAddress
from rtchat.storage import MemoryStorage, PostgresStorage, SqliteStorage
from tests.contract.backends import Backend
from tests.contract.support import add_user
from tests.pg import fresh_schema
from tests.redis_support import shared_redis


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store: Storage
    if request.param == "memory":
        store = MemoryStorage()
    elif request.param == "sqlite":
        store = await SqliteStorage.open(tmp_path / "chat.db")
    else:
        async with fresh_schema() as url:
            store = await PostgresStorage.open(url)
            try:
                yield store
            finally:
                await store.close()
        return
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def alice(storage: Storage) -> User:
    return await add_user(storage, "Alice")


@pytest.fixture
async def bob(storage: Storage) -> User:
    return await add_user(storage, "Bob")


@pytest.fixture(params=["memory", "redis"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    """The shared parts of a cluster; Redis is the machine's, under a prefix of the test's."""
    if request.param == "memory":
        yield Backend("memory")
        return
    async with shared_redis() as (client, prefix):
        yield Backend("redis", client, prefix, RedisAddress.parse("redis://127.0.0.1:6379/0"))
