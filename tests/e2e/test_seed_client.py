"""The seed tutorial's own client, unchanged, chats through rtchat in the seed's own flows:
two people, a second tab under the same name, a reload, and a server restart.

The seed's page sends no token (it has none) and emits without acknowledgements, so a
refusal would be silent: a tab that is not let in shows nothing wrong and its messages
go nowhere. Each flow below checks that every tab's messages reach everyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Page, expect

from tests.e2e.conftest import SEED_CLIENT_DIR

NewPage = Callable[..., Awaitable[Page]]
StartServer = Callable[..., AbstractAsyncContextManager[str]]

pytestmark = pytest.mark.e2e

# The seed client keeps its socket in a top-level `const socket`.
CONNECTED = "() => typeof socket !== 'undefined' && socket.connected"
RECONNECT_TIMEOUT_MS = 20_000  # Socket.IO's backoff tops out at 5 s between attempts


async def join(page: Page, name: str) -> None:
    await page.wait_for_function(CONNECTED)
    await page.fill("#username-input", name)
    await page.click("#join-btn")
    await expect(page.locator("#chat-container")).to_be_visible()


async def send(page: Page, text: str) -> None:
    await page.fill("#message-input", text)
    await page.click("#send-btn")
    await expect(page.locator("#message-input")).to_have_value("")


async def expect_lines(pages: list[Page], lines: list[str]) -> None:
    """Every page shows exactly these message lines, in this order."""
    for page in pages:
        await expect(page.locator("#messages-container .message")).to_have_text(lines)


async def test_seed_client_chats(seed_server_url: str, new_page: NewPage) -> None:
    alice = await new_page(seed_server_url)
    bob = await new_page(seed_server_url)
    await join(alice, "alice")
    await join(bob, "bob")
    await send(alice, "hello")
    await expect_lines([alice, bob], ["alice: hello"])


async def test_two_tabs_under_one_name_both_chat(seed_server_url: str, new_page: NewPage) -> None:
    first = await new_page(seed_server_url)
    second = await new_page(seed_server_url)
    bob = await new_page(seed_server_url)
    await join(first, "alice")
    await join(second, "alice")  # the seed lets two tabs share a name
    await join(bob, "bob")
    await send(second, "from the second tab")
    await send(first, "from the first tab")
    await send(bob, "hi both")
    await expect_lines(
        [first, second, bob],
        ["alice: from the second tab", "alice: from the first tab", "bob: hi both"],
    )
    # Each tab tells its own messages apart the seed's way: userId is its socket.id.
    own = await second.evaluate(
        """() => new Promise((resolve) => {
            socket.once('receive-message', (m) => resolve(m.userId === socket.id));
            socket.emit('send-message', 'mine?');
        })"""
    )
    assert own is True
    await expect(first.locator(".message").last).to_have_text("alice: mine?")


async def test_a_reload_rejoins_under_the_same_name(
    seed_server_url: str, new_page: NewPage
) -> None:
    alice = await new_page(seed_server_url)
    bob = await new_page(seed_server_url)
    await join(alice, "alice")
    await join(bob, "bob")
    await send(alice, "before the reload")
    await expect_lines([bob], ["alice: before the reload"])

    await alice.reload()  # a new socket, no token: within the name's grace
    await join(alice, "alice")
    await send(alice, "after the reload")
    await send(bob, "welcome back")
    await expect_lines(
        [bob], ["alice: before the reload", "alice: after the reload", "bob: welcome back"]
    )
    # The seed's page shows only what arrived since it loaded.
    await expect_lines([alice], ["alice: after the reload", "bob: welcome back"])


async def test_after_a_restart_the_seed_users_rejoin_under_their_names(
    start_server: StartServer, new_page: NewPage
) -> None:
    async with start_server(static_dir=SEED_CLIENT_DIR) as url:
        alice = await new_page(url)
        bob = await new_page(url)
        await join(alice, "alice")
        await join(bob, "bob")
        await send(alice, "before the restart")
        await expect_lines([alice, bob], ["alice: before the restart"])

    port = urlsplit(url).port
    assert port is not None
    # Back on the same port and database: every name is held for a while after a start.
    async with start_server(static_dir=SEED_CLIENT_DIR, port=port):
        for page, name in ((alice, "alice"), (bob, "bob")):
            await page.wait_for_function(CONNECTED, timeout=RECONNECT_TIMEOUT_MS)
            await page.reload()
            await join(page, name)
        await send(alice, "after the restart")
        await send(bob, "me too")
        await expect_lines([alice, bob], ["alice: after the restart", "bob: me too"])
