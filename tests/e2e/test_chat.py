"""Two people chat through rtchat's own browser client."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.pages import NewPage, join, message, send
from tests.support import until_connections

pytestmark = pytest.mark.e2e


def messages(page: Page, author: str, text: str) -> Locator:
    return page.locator(f'#messages li.msg[data-author="{author}"]').filter(
        has=page.locator(".msg__text", has_text=text)
    )


def notice(page: Page, text: str) -> Locator:
    return page.locator("#messages li.notice", has_text=text)


async def test_two_people_chat(server_url: str, new_page: NewPage, artifacts_dir: Path) -> None:
    alice = await new_page(server_url)
    bob = await new_page(server_url, width=360, height=640)  # the narrowest we support
    for page in (alice, bob):
        await expect(page.locator("#connection-status")).to_have_text("connected")

    await join(alice, "alice")
    await join(bob, "bob", click=True)

    # alice sees bob arrive; both count two people in #general.
    await expect(notice(alice, "bob is online")).to_have_count(1)
    for page in (alice, bob):
        await expect(page.locator("#online-count")).to_have_text("2")
        await expect(page.locator("#connection-status")).to_have_text("connected")

    await send(alice, "hello bob")
    await send(bob, "hi alice, how are you?")
    await send(alice, "look: <b>x</b>")
    for page in (alice, bob):
        await expect(messages(page, "alice", "hello bob")).to_have_count(1)
        await expect(messages(page, "bob", "hi alice, how are you?")).to_have_count(1)
        # Markup in a message is text, not HTML.
        literal = messages(page, "alice", "look:").locator(".msg__text")
        await expect(literal).to_have_text("look: <b>x</b>")
        await expect(page.locator("#messages b")).to_have_count(0)
    # bob joined after alice, so he has no notice about her: her announcement reached his
    # page before he joined, and what came since (the messages above) brought none.
    await expect(notice(bob, "alice is online")).to_have_count(0)
    # Own messages are set apart; other people's are not.
    await expect(messages(alice, "alice", "hello bob")).to_have_class("msg msg--own")
    await expect(messages(bob, "alice", "hello bob")).to_have_class("msg")
    await expect(messages(bob, "bob", "hi alice")).to_have_class("msg msg--own")

    # Typing shows on the other page and clears when the message is sent.
    await bob.click("#message-input")
    await bob.keyboard.type("on my way", delay=30)
    await expect(alice.locator("#typing-indicator")).to_have_text("bob is typing…")
    await expect(bob.locator("#typing-indicator")).to_have_text("")
    await bob.keyboard.press("Enter")
    await expect(alice.locator("#typing-indicator")).to_have_text("")
    await expect(messages(alice, "bob", "on my way")).to_have_count(1)

    await alice.screenshot(path=artifacts_dir / "e2e-chat.png", animations="disabled")
    await bob.screenshot(path=artifacts_dir / "e2e-chat-360px.png", animations="disabled")

    # A second tab of bob's: the same person, counted once; closing it is no goodbye.
    bob_tab = await bob.context.new_page()
    await bob_tab.goto(server_url)
    await expect(bob_tab.locator("#user-info")).to_have_text("you are bob")
    await expect(messages(bob_tab, "bob", "on my way")).to_have_count(1)
    await expect(alice.locator("#online-list .online__name")).to_have_text(["alice", "bob"])
    await bob_tab.close()
    # Once the server has handled the close, a goodbye it sent for it would reach alice
    # before the answer to her next message.
    await until_connections(server_url, 2)
    await send(alice, "still there?")
    await expect(message(alice, "still there?", author="alice")).to_have_count(1)  # answered
    await expect(messages(bob, "alice", "still there?")).to_have_count(1)
    await expect(notice(alice, "bob went offline")).to_have_count(0)
    await expect(alice.locator("#online-count")).to_have_text("2")

    await bob.context.close()
    await expect(notice(alice, "bob went offline")).to_have_count(1)
    await expect(alice.locator("#online-count")).to_have_text("1")

    # Nothing arrived twice (ack and broadcast carry the same message).
    await expect(alice.locator("#messages li.msg")).to_have_count(5)
    for text in ("hello bob", "hi alice", "look:", "on my way", "still there?"):
        await expect(alice.locator("#messages li.msg", has_text=text)).to_have_count(1)


async def test_bad_or_taken_username_shows_server_error(server_url: str, new_page: NewPage) -> None:
    page = await new_page(server_url)
    await page.fill("#username-input", "x" * 33)
    await page.press("#username-input", "Enter")

    # The text comes from the server's ack, so only its presence is asserted.
    await expect(page.locator("#join-error")).not_to_be_empty()
    await expect(page.locator("#username-input")).to_have_attribute("aria-invalid", "true")
    await expect(page.locator("#join-screen")).to_be_visible()
    await expect(page.locator("#chat-screen")).to_be_hidden()

    # A valid name then gets in and clears the error.
    await join(page, "carol")
    await expect(page.locator("#join-error")).to_be_empty()

    # A name someone online holds is refused, with the reason.
    other = await new_page(server_url)
    await other.fill("#username-input", "carol")
    await other.press("#username-input", "Enter")
    await expect(other.locator("#join-error")).to_contain_text("using that name")
    await expect(other.locator("#chat-screen")).to_be_hidden()
    await join(other, "carol2")
