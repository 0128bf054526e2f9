"""Fixtures for clusters of `rtchat serve` processes: a fresh PostgreSQL database and the
machine's Redis under a prefix of the cluster's own (see nodes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from tests.support import ChatClient

Connect = Callable[..., Awaitable[ChatClient]]


@pytest.fixture
async def connect() -> AsyncIterator[Connect]:
    """Connect python-socketio clients to any URL; all are closed afterwards."""
    made: list[ChatClient] = []

    async def open_client(url: str, **options: Any) -> ChatClient:
        client = await ChatClient(url, **options).connect()
        made.append(client)
        return client

    yield open_client
    for client in made:
        if client.sio.connected:
            await client.close()
