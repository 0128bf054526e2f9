"""One fresh storage per test, of each kind: every test in this folder runs against all."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rtchat.ports import Storage
from rtchat.storage import MemoryStorage, SqliteStorage


@pytest.fixture(params=["memory", "sqlite"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    store: Storage
    if request.param == "memory":
        store = MemoryStorage()
    else:
        store = await SqliteStorage.open(tmp_path / "chat.db")
    try:
        yield store
    finally:
        await store.close()
