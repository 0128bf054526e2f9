from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from rtchat.settings import Settings
from tests.pg import fresh_database
from tests.support import ChatClient, running_server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Defaults as a user gets them, with the SQLite file in this test's folder."""
    return Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db")


@pytest.fixture
async def server(settings: Settings) -> AsyncIterator[str]:
    async with running_server(settings) as (url, _):
        yield url


@pytest.fixture
async def clients(server: str) -> AsyncIterator[Callable[..., Awaitable[ChatClient]]]:
    """Connects clients to `server` and disconnects them all afterwards."""
    made: list[ChatClient] = []

    async def connect(**options: Any) -> ChatClient:
        client = await ChatClient(server, **options).connect()
        made.append(client)
        return client

    yield connect
    for client in made:
        if client.sio.connected:
            await client.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """The URL of a fresh PostgreSQL database, dropped after the test (see tests/pg.py)."""
    async with fresh_database() as url:
        yield url
