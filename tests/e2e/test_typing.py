"""Typing indicator: several names at once, and the timers that clear it."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest
import socketio
from playwright.async_api import Page, expect

NewPage = Callable[..., Awaitable[Page]]

pytestmark = pytest.mark.e2e


async def join(page: Page, name: str) -> None:
    await page.fill("#username-input", name)
    await page.press("#username-input", "Enter")
    await expect(page.locator("#user-info")).to_have_text(f"you are {name}")


async def test_two_typists_then_idle(server_url: str, new_page: NewPage) -> None:
    alice, bob, carol = [await new_page(server_url) for _ in range(3)]
    for page, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
        await join(page, name)
    await expect(carol.locator("#online-count")).to_have_text("3")

    await alice.type("#message-input", "hmm")
    await bob.type("#message-input", "well")
    indicator = carol.locator("#typing-indicator")
    await expect(indicator).to_have_text("alice and bob are typing…")

    # Nobody sent anything: each client says "stopped" about 3 s after its last key.
    started = time.monotonic()
    await expect(indicator).to_have_text("")
    assert time.monotonic() - started > 1.5


async def test_silent_typist_expires(server_url: str, new_page: NewPage) -> None:
    carol = await new_page(server_url)
    await join(carol, "carol")

    # A client that says "typing" once and then goes quiet, without ever saying "false".
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(server_url, transports=["websocket"])
    try:
        ack = await client.call("user-joined", "dave", timeout=5)
        assert ack["ok"], ack
        await client.emit("typing", True)
        indicator = carol.locator("#typing-indicator")
        await expect(indicator).to_have_text("dave is typing…")
        started = time.monotonic()
        await expect(indicator).to_have_text("")
        assert time.monotonic() - started > 3  # expired on the ~5 s timer, not earlier
    finally:
        await client.disconnect()
