"""Sign-in with the site's tokens over `/ws`: the hello carries the token Socket.IO's
`auth` does, and the same service call reads it (tests/integration/test_jwt.py is the
Socket.IO side)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rtchat.settings import Settings
from tests.integration.test_jwt import SECRET, site_token
from tests.support import error_code, ok, running_server
from tests.ws_client import WsClient


@pytest.fixture
async def site_server(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", jwt_secret=SECRET)
    async with running_server(settings) as (url, _):
        yield url


async def test_a_valid_token_in_the_hello_names_the_user(site_server: str) -> None:
    alice = await WsClient.open(site_server)
    try:
        hello = await alice.hello(token=site_token(300))
        assert hello["user"]["username"] == "alice"
        assert "token" not in hello
        assert error_code(await alice.call("user-joined", "mallory")) == "forbidden"
        ok(await alice.call("send-message", {"room": "general", "text": "signed in"}))
    finally:
        await alice.close()


@pytest.mark.parametrize(
    ("auth", "code"),
    [({}, "invalid_token"), ({"token": site_token(-5)}, "token_expired")],
)
async def test_a_hello_without_a_good_token_is_refused_and_closed(
    site_server: str, auth: dict[str, str], code: str
) -> None:
    client = await WsClient.open(site_server)
    assert error_code(await client.call("hello", auth)) == code
    assert await client.closed() == (4001, code)


@pytest.mark.serial
async def test_refresh_then_no_refresh_closes_at_expiry(site_server: str) -> None:
    client = await WsClient.open(site_server)
    await client.hello(token=site_token(2))
    started = time.monotonic()
    told = await client.wait_for("token-expiring")
    assert told["expiresAt"]
    answer = ok(await client.call("refresh-token", {"token": site_token(3)}))
    assert answer["expiresAt"] > told["expiresAt"]
    # The refreshed token is not refreshed again: the connection is closed at its expiry.
    assert await client.closed() == (4001, "token_expired")
    assert 2 <= time.monotonic() - started < 3 + 2
