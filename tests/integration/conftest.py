"""Fixtures the integration suites share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.ws_client import WsClient

OpenWs = Callable[..., Awaitable[WsClient]]


@pytest.fixture
async def ws_clients(server: str) -> AsyncIterator[OpenWs]:
    """Opens `/ws` clients (to `server` unless told another URL), all closed afterwards."""
    made: list[WsClient] = []

    async def open_client(url: str = server) -> WsClient:
        client = await WsClient.open(url)
        made.append(client)
        return client

    yield open_client
    for client in made:
        await client.close()
