"""The client rides out a server restart: it shows the outage and re-joins on its own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

NewPage = Callable[..., Awaitable[Page]]
StartServer = Callable[..., AbstractAsyncContextManager[str]]

pytestmark = pytest.mark.e2e

# Socket.IO's default backoff tops out at 5 s between attempts (plus jitter).
RECONNECT_TIMEOUT_MS = 20_000


async def test_rejoins_after_server_restart(start_server: StartServer, new_page: NewPage) -> None:
    async with start_server() as url:
        page = await new_page(url)
        await page.fill("#username-input", "alice")
        await page.press("#username-input", "Enter")
        await expect(page.locator("#online-count")).to_have_text("1")
        await expect(page.locator("#connection-status")).to_have_text("connected")

    status = page.locator("#connection-status")
    await expect(status).to_have_text("reconnecting…")

    port = urlsplit(url).port
    assert port is not None
    async with start_server(port=port):
        await expect(status).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)
        # Re-joined without being asked: still in the chat, and the server accepts a
        # message (it would answer not_joined to a session that never joined).
        await expect(page.locator("#chat-screen")).to_be_visible()
        await expect(page.locator("#messages li.notice", has_text="you joined")).to_have_count(2)
        await expect(page.locator("#online-count")).to_have_text("1")
        await page.fill("#message-input", "back again")
        await page.press("#message-input", "Enter")
        own = page.locator("#messages li.msg.msg--own", has_text="back again")
        await expect(own).to_have_count(1)
        await expect(page.locator("#send-error")).to_be_empty()
