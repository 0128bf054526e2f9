"""rtchat's own page beside guests (the seed's client, a second tab without a token) and
with more public rooms than one page of `list-rooms`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, connect_client, join, message, send

StartServer = Callable[..., AbstractAsyncContextManager[str]]

pytestmark = pytest.mark.e2e


async def test_a_guest_under_your_name_is_marked_and_is_not_you(
    server_url: str, new_page: NewPage
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    await send(alice, "the real alice")
    # Another client, with no token, asks for the name: it chats as a guest under it.
    impostor = await connect_client(server_url, "alice")
    try:
        ack = await impostor.call("send-message", "hello from a guest", timeout=5)
        assert ack["ok"], ack
        assert ack["data"]["guest"] is True
        theirs = message(alice, "hello from a guest", author="alice")
        await expect(theirs).to_have_count(1)
        await expect(theirs).to_have_attribute("data-guest", "")
        await expect(theirs.locator(".guest-badge")).to_have_text("guest")
        await expect(theirs).not_to_have_class("msg msg--own")
        await expect(theirs.locator(".msg__author")).to_have_text("alice")
        mine = message(alice, "the real alice", author="alice")
        await expect(mine.locator(".msg__author")).to_have_text("alice (you)")
        await expect(mine.locator(".guest-badge")).to_have_count(0)
        # Both are online: the account (you) and the guest, marked.
        entries = alice.locator("#online-list li")
        await expect(entries).to_have_count(2)
        await expect(alice.locator("#online-list li[data-guest] .guest-badge")).to_have_count(1)
        await expect(alice.locator("#online-list li:not([data-guest])")).to_contain_text("(you)")
    finally:
        await impostor.disconnect()
    await expect(alice.locator("#online-list li")).to_have_count(1)


async def test_public_rooms_are_browsed_page_by_page(
    start_server: StartServer, new_page: NewPage
) -> None:
    lifted = {
        "RTCHAT_ROOMS_PER_HOUR": "0",
        "RTCHAT_ROOMS_PER_HOUR_PER_ADDRESS": "0",
        "RTCHAT_RATE_LIMIT": "0",  # and the per-connection event limit
    }
    async with start_server(settings=lifted) as url:
        maker = await connect_client(url, "maker")
        try:
            for i in range(104):  # with general, 105: a page of 100 and five more
                ack = await maker.call("create-room", {"name": f"room-{i:03d}"}, timeout=5)
                assert ack["ok"], ack
        finally:
            await maker.disconnect()
        page = await new_page(url)
        await join(page, "reader")
        await page.click("#browse summary")
        items = page.locator("#browse-list li.browse-item")
        await expect(items).to_have_count(100)
        more = page.locator("#browse-list button[data-more]")
        await more.click()
        await expect(items).to_have_count(105)
        await expect(more).to_have_count(0)
        await expect(items.last).to_have_attribute("data-room", "room-103")


async def test_a_join_limit_is_told_in_the_servers_words(
    start_server: StartServer, new_page: NewPage
) -> None:
    async with start_server(settings={"RTCHAT_JOINS_PER_MINUTE": "1"}) as url:
        first = await new_page(url)
        await join(first, "first")
        second = await new_page(url)
        await second.fill("#username-input", "second")
        await second.press("#username-input", "Enter")
        # Not "sending messages too fast": which limit it was, from the server.
        await expect(second.locator("#join-error")).to_contain_text("joins from your address")
        await expect(second.locator("#chat-screen")).to_be_hidden()
