"""Reading back up: new messages do not pull the reader down; a button and a divider
say what came meanwhile."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.pages import NewPage, connect_client, join, message, post_messages

pytestmark = pytest.mark.e2e


async def distance_from_bottom(page: Page) -> float:
    return float(
        await page.locator("#messages").evaluate(
            "(el) => el.scrollHeight - el.scrollTop - el.clientHeight"
        )
    )


async def test_jump_to_latest_and_the_unread_divider(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    await post_messages(server_url, "general", [f"earlier {i}" for i in range(40)])
    alice = await new_page(server_url)
    await join(alice, "alice")
    await expect(message(alice, "earlier 39")).to_have_count(1)
    jump = alice.locator("#jump-latest")
    divider = alice.locator("#messages li.unread-divider")
    await expect(jump).to_be_hidden()  # at the bottom, nothing to jump to

    # Read back up a little (not to the top: no older page is asked for).
    await alice.locator("#messages").evaluate("(el) => { el.scrollTop = el.scrollHeight / 3; }")
    await expect(jump).to_be_visible()
    await expect(jump).to_have_text("Jump to latest ↓")
    top_before = await alice.locator("#messages").evaluate("(el) => el.scrollTop")

    bob = await connect_client(server_url, "bob")
    try:
        for text in ("new one", "new two", "new three"):
            ack = await bob.call("send-message", {"room": "general", "text": text}, timeout=5)
            assert ack["ok"], ack
    finally:
        await bob.disconnect()
    await expect(message(alice, "new three")).to_have_count(1)
    await expect(jump).to_have_text("3 new messages ↓")
    # The reader stays where they were; the divider sits right before the first new one.
    assert await alice.locator("#messages").evaluate("(el) => el.scrollTop") == top_before
    await expect(divider).to_have_count(1)
    after_divider = alice.locator("#messages li.unread-divider + li.msg .msg__text")
    await expect(after_divider).to_have_text("new one")
    await alice.screenshot(path=tmp_path / "jump-to-latest.png", animations="disabled")

    await jump.click()
    await expect(jump).to_be_hidden()
    assert await distance_from_bottom(alice) < 2
    await expect(alice.locator("#message-input")).to_be_focused()
    # The divider stays, to show where reading stopped, until the reader writes.
    await expect(divider).to_have_count(1)
    await alice.screenshot(path=tmp_path / "divider-after-jump.png", animations="disabled")
    await alice.fill("#message-input", "caught up")
    await alice.press("#message-input", "Enter")
    await expect(message(alice, "caught up")).to_have_count(1)
    await expect(divider).to_have_count(0)


async def test_at_the_bottom_new_messages_follow_without_a_divider(
    server_url: str, new_page: NewPage
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    bob = await connect_client(server_url, "bob")
    try:
        ack = await bob.call("send-message", {"room": "general", "text": "hi"}, timeout=5)
        assert ack["ok"], ack
    finally:
        await bob.disconnect()
    await expect(message(alice, "hi")).to_have_count(1)
    await expect(alice.locator("#jump-latest")).to_be_hidden()
    await expect(alice.locator("#messages li.unread-divider")).to_have_count(0)
