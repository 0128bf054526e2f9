"""Unread and mention counts are the account's, kept by the server: two tabs of one account
agree, and reading in one clears the other."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.pages import (
    NewPage,
    connect_client,
    create_room,
    join,
    message,
    open_room,
    room_link,
)

pytestmark = pytest.mark.e2e


async def badge_of(page: Page, room: str) -> str | None:
    badge = room_link(page, room).locator(".unread")
    return await badge.text_content() if await badge.count() else None


async def test_two_tabs_of_one_account_share_unread_and_mentions(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    first = await new_page(server_url)
    await join(first, "alice")
    await create_room(first, "ops")
    await open_room(first, "general")
    # The same browser, so the same account: a second tab.
    second = await first.context.new_page()
    await second.goto(server_url)
    await expect(second.locator("#user-info")).to_have_text("you are alice")
    await expect(room_link(second, "ops")).to_have_count(1)

    bob = await connect_client(server_url, "bob")
    try:
        ack = await bob.call("join-room", {"room": "ops"}, timeout=5)
        assert ack["ok"], ack
        for text in ("one", "two", "@alice three"):
            ack = await bob.call("send-message", {"room": "ops", "text": text}, timeout=5)
            assert ack["ok"], ack
        for tab in (first, second):
            badge = room_link(tab, "ops").locator(".unread")
            await expect(badge).to_have_text("@ 3")
            await expect(badge).to_have_class("unread unread--mention")
            await expect(tab).to_have_title("(3) rtchat")
        await second.screenshot(path=tmp_path / "unread-mention.png", animations="disabled")

        # Reading in the first tab clears the second.
        await open_room(first, "ops")
        await expect(message(first, "@alice three")).to_have_class("msg msg--mention")
        await expect(room_link(second, "ops").locator(".unread")).to_have_count(0)
        await expect(second).to_have_title("rtchat")

        # What comes while the first tab reads is read in the second too.
        ack = await bob.call("send-message", {"room": "ops", "text": "four"}, timeout=5)
        assert ack["ok"], ack
        await expect(message(first, "four")).to_have_count(1)
        await expect(room_link(second, "ops").locator(".unread")).to_have_count(0)

        # The server keeps it: a reload of the second tab shows nothing unread, and a new
        # message counts from the marker, not from the start.
        await open_room(first, "general")
        ack = await bob.call("send-message", {"room": "ops", "text": "five"}, timeout=5)
        assert ack["ok"], ack
        await expect(room_link(first, "ops").locator(".unread")).to_have_text("1")
        await second.reload()
        await expect(second.locator("#user-info")).to_have_text("you are alice")
        await expect(room_link(second, "ops").locator(".unread")).to_have_text("1")
        assert await badge_of(second, "general") is None
    finally:
        await bob.disconnect()
