"""Fixtures for clusters of `rtchat serve` processes: a fresh PostgreSQL database and the
machine's Redis under a prefix of the cluster's own (see nodes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster.nodes import Cluster, running_cluster
from tests.redis_support import SHARED_URL
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


@pytest.fixture
async def two_nodes(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    """Two nodes on a fresh database and the machine's Redis; none may log a traceback."""
    async with running_cluster(
        2, tmp_path, database_url=postgres_url, redis_url=SHARED_URL
    ) as nodes:
        yield nodes
        assert nodes.tracebacks() == []
