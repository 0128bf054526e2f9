from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from rtchat.engine import EngineOptions
from tests.engine.support import echo_server, running_engine

MAX_PAYLOAD = 10_000


@pytest.fixture
async def url() -> AsyncIterator[str]:
    """An echo engine with the default timings and a small maxHttpBufferSize."""
    async with running_engine(echo_server(EngineOptions(max_payload=MAX_PAYLOAD))) as base:
        yield base


@pytest.fixture
async def fast_url() -> AsyncIterator[str]:
    """The timings of the protocol's own test suite: pingInterval 300 ms, pingTimeout 200 ms."""
    options = EngineOptions(ping_interval=0.3, ping_timeout=0.2, connect_timeout=5)
    async with running_engine(echo_server(options)) as base:
        yield base
