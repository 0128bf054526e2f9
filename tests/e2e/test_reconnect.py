"""The client rides out a server restart: it shows the outage, keeps who you are and
what you wrote meanwhile, and delivers it once the server is back."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, join, message, pending, send, shown_texts

StartServer = Callable[..., AbstractAsyncContextManager[str]]

pytestmark = pytest.mark.e2e

# Socket.IO's default backoff tops out at 5 s between attempts (plus jitter).
RECONNECT_TIMEOUT_MS = 20_000


async def test_rejoins_after_server_restart(start_server: StartServer, new_page: NewPage) -> None:
    async with start_server() as url:
        page = await new_page(url)
        await join(page, "alice")
        await expect(page.locator("#online-count")).to_have_text("1")
        await send(page, "before the restart")
        await expect(message(page, "before the restart")).to_have_count(1)

    status = page.locator("#connection-status")
    await expect(status).to_have_text("reconnecting…")
    await send(page, "while the server is down")
    await expect(pending(page)).to_have_count(1)

    port = urlsplit(url).port
    assert port is not None
    async with start_server(port=port):
        await expect(status).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
        # Still alice (the token outlived the restart), still in the chat, nothing doubled.
        await expect(page.locator("#chat-screen")).to_be_visible()
        await expect(page.locator("#user-info")).to_have_text("you are alice")
        await expect(page.locator("#online-count")).to_have_text("1")
        await expect(message(page, "while the server is down")).to_have_count(1)
        await expect(pending(page)).to_have_count(0)
        await send(page, "back again")
        await expect(message(page, "back again", author="alice")).to_have_count(1)
        await expect(page.locator("#send-error")).to_be_empty()
        assert await shown_texts(page) == [
            "before the restart",
            "while the server is down",
            "back again",
        ]
