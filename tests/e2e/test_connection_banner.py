"""A lost connection is said plainly, with what waits to be sent."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, join, message, pending

pytestmark = pytest.mark.e2e

RECONNECT_TIMEOUT_MS = 20_000  # Socket.IO's backoff tops out at 5 s (plus jitter)


async def test_the_banner_counts_what_waits_and_goes_when_back(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    banner = alice.locator("#connection-banner")
    await expect(banner).to_be_hidden()

    await alice.context.set_offline(True)
    await expect(banner).to_be_visible()
    await expect(banner).to_contain_text("offline")
    await expect(banner).to_contain_text("Messages you write now are sent when it is back.")
    for text in ("one while away", "two while away"):
        await alice.fill("#message-input", text)
        await alice.press("#message-input", "Enter")
    await expect(pending(alice)).to_have_count(2)
    await expect(banner).to_contain_text("2 messages waiting to send.")
    await alice.screenshot(path=tmp_path / "offline-banner.png", animations="disabled")
    await alice.emulate_media(color_scheme="dark")
    await alice.screenshot(path=tmp_path / "offline-banner-dark.png", animations="disabled")

    await alice.context.set_offline(False)
    await expect(banner).to_be_hidden(timeout=RECONNECT_TIMEOUT_MS)
    for text in ("one while away", "two while away"):
        await expect(message(alice, text)).to_have_count(1)
    await expect(pending(alice)).to_have_count(0)
