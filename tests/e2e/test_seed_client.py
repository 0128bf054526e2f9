"""The seed tutorial's own client, unchanged, chats through rtchat."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from playwright.async_api import Page, expect

NewPage = Callable[..., Awaitable[Page]]

pytestmark = pytest.mark.e2e

# The seed client keeps its socket in a top-level `const socket`.
CONNECTED = "() => typeof socket !== 'undefined' && socket.connected"


async def join(page: Page, name: str) -> None:
    await page.fill("#username-input", name)
    await page.click("#join-btn")
    await expect(page.locator("#chat-container")).to_be_visible()


async def test_seed_client_chats(seed_server_url: str, new_page: NewPage) -> None:
    alice = await new_page(seed_server_url)
    bob = await new_page(seed_server_url)
    for page in (alice, bob):
        await page.wait_for_function(CONNECTED)

    await join(alice, "alice")
    await join(bob, "bob")
    await alice.fill("#message-input", "hello")
    await alice.click("#send-btn")

    for page in (alice, bob):
        container = page.locator("#messages-container")
        await expect(container.locator(".message")).to_have_text(["alice: hello"])
