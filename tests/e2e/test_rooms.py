"""Rooms, direct messages, unread counts and presence, between real browsers."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.pages import (
    NewPage,
    connect_client,
    create_room,
    join,
    join_listed_room,
    message,
    open_dm,
    open_room,
    room_link,
    send,
)

pytestmark = pytest.mark.e2e


def online_names(page: Page) -> Locator:
    return page.locator("#online-list .online__name")


async def test_room_and_direct_messages(
    server_url: str, new_page: NewPage, artifacts_dir: Path
) -> None:
    alice = await new_page(server_url, width=1200, height=760)
    bob = await new_page(server_url)
    carol = await new_page(server_url, width=390, height=760)  # the sidebar is a drawer here
    await join(alice, "alice")
    await join(bob, "bob", click=True)
    await join(carol, "carol")
    await expect(online_names(alice)).to_have_text(["alice", "bob", "carol"])

    # alice makes a room; bob finds it under "Browse rooms" and joins.
    await create_room(alice, "design", "Pixels and the people who push them")
    await join_listed_room(bob, "design")
    await expect(bob.locator("#room-topic")).to_have_text("Pixels and the people who push them")
    for page in (alice, bob):
        # Presence of a room is its online members: carol is online but not in it.
        await expect(online_names(page)).to_have_text(["alice", "bob"])
        await expect(page.locator("#online-count")).to_have_text("2")

    await send(alice, "hello design")
    await send(bob, "hi alice")
    await send(alice, "look: <b>x</b>")
    for page in (alice, bob):
        for text in ("hello design", "hi alice", "look: <b>x</b>"):
            await expect(message(page, text)).to_have_count(1)
        await expect(page.locator("#messages b")).to_have_count(0)  # text, never markup
    await expect(message(alice, "hello design")).to_have_class("msg msg--own")
    await expect(message(bob, "hello design")).to_have_class("msg")

    # Typing shows to the room only, and clears when the message is sent.
    await bob.click("#message-input")
    await bob.keyboard.type("on my way", delay=20)
    await expect(alice.locator("#typing-indicator")).to_have_text("bob is typing…")
    await bob.keyboard.press("Enter")
    await expect(alice.locator("#typing-indicator")).to_have_text("")
    await expect(message(alice, "on my way", author="bob")).to_have_count(1)

    # A message in a room you are not looking at counts as unread until you open it.
    await open_room(bob, "general")
    await send(alice, "unread for bob")
    await expect(room_link(bob, "design").locator(".unread")).to_have_text("1")
    await open_room(bob, "design")
    await expect(room_link(bob, "design").locator(".unread")).to_have_count(0)
    await expect(message(bob, "unread for bob")).to_have_count(1)

    # A direct message: bob's sidebar gains it (room-added) with the message unread.
    await open_dm(alice, "bob")
    await send(alice, "psst, bob")
    dm = bob.locator("#dm-list button.room-link")
    await expect(dm).to_have_count(1)
    await expect(dm.locator(".room-link__name")).to_have_text("alice")
    await expect(dm.locator(".unread")).to_have_text("1")
    await dm.click()
    await expect(bob.locator("#room-title")).to_have_text("@ alice")
    await expect(message(bob, "psst, bob", author="alice")).to_have_count(1)
    await send(bob, "hey alice, just us")
    await expect(message(alice, "hey alice, just us", author="bob")).to_have_count(1)
    await expect(online_names(alice)).to_have_text(["alice", "bob"])

    # Nothing arrived twice on either side (acks and broadcasts carry the same messages).
    for page in (alice, bob):
        await expect(page.locator("#messages li.msg")).to_have_count(2)
        await expect(page.locator("#messages li.msg--pending")).to_have_count(0)

    # carol sees neither the room's messages nor the DM, and cannot open the DM. dave
    # comes online first: his announcement reaches carol after anything of the DM or
    # the room that the server might have sent her.
    client = await connect_client(server_url, "dave")
    await expect(carol.locator("#messages li.notice", has_text="dave is online")).to_have_count(1)
    await expect(carol.locator("#dm-list button.room-link")).to_have_count(0)
    for text in ("psst, bob", "hey alice, just us", "hello design"):
        await expect(carol.get_by_text(text)).to_have_count(0)
    dm_name = await dm.get_attribute("data-room")
    assert dm_name is not None
    assert dm_name.startswith("dm:")
    try:
        ack = await client.call("join-room", {"room": dm_name}, timeout=5)
        assert ack == {
            "ok": False,
            "error": {"code": "forbidden", "message": ack["error"]["message"]},
        }
    finally:
        await client.disconnect()

    # carol, on a phone, makes a room of her own; everyone can find it.
    await create_room(carol, "random", "Off-topic, memes, lunch plans")
    await expect(carol.locator("#sidebar-toggle")).to_have_attribute("aria-expanded", "false")

    # The picture: alice in #design with the sidebar (a DM, an unread room, the public
    # rooms) and who is online.
    await open_room(alice, "design")
    await open_room(bob, "design")
    await send(bob, "see you at the review")
    await send(bob, "I'll bring the mockups")
    await open_room(carol, "general")
    await send(carol, "lunch anyone?")
    await expect(message(carol, "lunch anyone?")).to_have_count(1)
    await expect(message(alice, "I'll bring the mockups")).to_have_count(1)
    await expect(room_link(alice, "general").locator(".unread")).to_have_text("1")
    await alice.click("#browse summary")
    await expect(alice.locator("#browse-list li")).to_have_count(3)
    await expect(alice.locator('#browse-list li[data-room="random"]')).to_contain_text("1 member")
    await alice.click("#message-input")
    await alice.keyboard.type("Thanks bob! Let's", delay=10)
    await alice.screenshot(path=artifacts_dir / "e2e-rooms.png", animations="disabled")
    await alice.emulate_media(color_scheme="dark")
    await alice.screenshot(path=artifacts_dir / "e2e-rooms-dark.png", animations="disabled")
    await carol.screenshot(path=artifacts_dir / "e2e-rooms-narrow.png", animations="disabled")
    await carol.click("#sidebar-toggle")
    await expect(carol.locator("#sidebar")).to_be_visible()
    await carol.screenshot(path=artifacts_dir / "e2e-rooms-drawer.png", animations="disabled")
    await carol.keyboard.press("Escape")
    await expect(carol.locator("#sidebar")).to_be_hidden()

    # bob leaves #design: alice sees him go from the room and from its online list.
    await bob.click("#leave-btn")
    await expect(bob.locator("#room-title")).to_have_text("# general")
    await expect(room_link(bob, "design")).to_have_count(0)
    await expect(alice.locator("#messages li.notice", has_text="bob left #design")).to_have_count(1)
    await expect(online_names(alice)).to_have_text(["alice"])
