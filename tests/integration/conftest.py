"""Fixtures the integration suites share."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from rtchat.app import Application
from rtchat.settings import Settings
from tests.api_client import KEY, OTHER_KEY
from tests.support import running_server
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


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[tuple[str, Application]]:
    """A server with the API on for two bots, `newsbot` (`KEY`) and `alerts`."""
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/rtchat.db",
        api_keys=f"newsbot:{KEY},alerts:{OTHER_KEY}",
    )
    async with running_server(settings) as served:
        yield served
