"""What people do to messages in the page: edit, delete, react and reply, by mouse, touch
and keyboard; changes made while a page was offline; mentions of the reader."""

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
    record_sent_events,
    send,
    two_people,
)

pytestmark = pytest.mark.e2e


def by_id(page: Page, msg_id: str) -> Locator:
    return page.locator(f'#messages li.msg[data-id="{msg_id}"]')


async def tool(page: Page, msg: Locator, action: str) -> None:
    """Use one of a message's actions the way a mouse does: point at it, click."""
    await msg.hover()
    await msg.locator(f'button[data-action="{action}"]').click()


async def test_edit_react_reply_and_delete_reach_everyone(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = await two_people(new_page, server_url)
    await send(alice, "helo wrld")
    typo = message(alice, "helo wrld")
    await expect(typo).to_have_count(1)
    msg_id = await typo.get_attribute("data-id")
    assert msg_id is not None

    # Edit: the composer takes the text; Enter saves; everyone sees it, marked.
    await tool(alice, typo, "edit")
    await expect(alice.locator("#composer-context")).to_contain_text("Editing your message")
    await expect(alice.locator("#message-input")).to_have_value("helo wrld")
    await alice.fill("#message-input", "hello world")
    await alice.press("#message-input", "Enter")
    await expect(alice.locator("#composer-context")).to_be_hidden()
    for page in (alice, bob):
        await expect(by_id(page, msg_id).locator(".msg__text")).to_have_text("hello world")
        await expect(by_id(page, msg_id).locator(".msg__edited")).to_have_text("(edited)")
    # An edit is no new message.
    await expect(bob.locator("#messages li.msg[data-id]")).to_have_count(1)

    # React from the picker; the reaction's own button adds another's.
    await tool(bob, by_id(bob, msg_id), "react")
    await bob.locator('#reaction-picker button[data-pick="👍"]').click()
    for page in (alice, bob):
        await expect(by_id(page, msg_id).locator(".reaction")).to_have_text("👍 1")
    chip = by_id(bob, msg_id).locator(".reaction")
    await expect(chip).to_have_attribute("aria-pressed", "true")
    await expect(by_id(alice, msg_id).locator(".reaction")).to_have_attribute(
        "aria-pressed", "false"
    )
    await by_id(alice, msg_id).locator(".reaction").click()
    for page in (alice, bob):
        await expect(by_id(page, msg_id).locator(".reaction")).to_have_text("👍 2")
    # Pressed again, it is taken back.
    await chip.click()
    for page in (alice, bob):
        await expect(by_id(page, msg_id).locator(".reaction")).to_have_text("👍 1")

    # Reply: the answer quotes what it answers.
    await tool(bob, by_id(bob, msg_id), "reply")
    await expect(bob.locator("#composer-context")).to_contain_text("Replying to alice")
    await send(bob, "agreed")
    await expect(bob.locator("#composer-context")).to_be_hidden()
    for page in (alice, bob):
        reply = message(page, "agreed")
        await expect(reply.locator(".msg__quote")).to_have_text("alice hello world")
    await alice.screenshot(path=tmp_path / "edited-reacted-replied.png", animations="disabled")

    # Delete: a tombstone for everyone, and the reply's quote says so.
    alice.once("dialog", lambda dialog: dialog.accept())
    await tool(alice, by_id(alice, msg_id), "delete")
    for page in (alice, bob):
        gone = by_id(page, msg_id)
        await expect(gone.locator(".msg__text")).to_have_text("This message was deleted.")
        await expect(gone.locator(".reaction")).to_have_count(0)
        await expect(gone.locator(".msg__tools")).to_have_count(0)
        quote = message(page, "agreed").locator(".msg__quote")
        await expect(quote).to_have_text("alice a deleted message")
    await bob.screenshot(path=tmp_path / "deleted.png", animations="disabled")
    # Only your own messages offer an edit.
    await expect(message(alice, "agreed").locator('button[data-action="edit"]')).to_have_count(0)
    await expect(message(alice, "agreed").locator('button[data-action="delete"]')).to_have_count(0)


async def test_changes_made_while_offline_arrive_once_on_reconnect(
    server_url: str, new_page: NewPage
) -> None:
    bob = await new_page(server_url)
    await join(bob, "bob")
    alice = await connect_client(server_url, "alice")
    try:
        posted = []
        for text in ("first", "second", "third"):
            ack = await alice.call("send-message", {"room": "general", "text": text}, timeout=5)
            assert ack["ok"], ack
            posted.append(ack["data"]["id"])
        await expect(message(bob, "third")).to_have_count(1)

        await bob.context.set_offline(True)
        await expect(bob.locator("#connection-banner")).to_be_visible()
        changes = [
            ("edit-message", {"id": posted[0], "text": "first, edited"}),
            ("react", {"id": posted[1], "emoji": "🎉"}),
            ("delete-message", {"id": posted[2]}),
        ]
        for event, payload in changes:
            ack = await alice.call(event, {"room": "general", **payload}, timeout=5)
            assert ack["ok"], ack
        ack = await alice.call("send-message", {"room": "general", "text": "fourth"}, timeout=5)
        assert ack["ok"], ack
        sent = record_sent_events(bob)
        await bob.context.set_offline(False)

        await expect(message(bob, "fourth")).to_have_count(1)
        await expect(by_id(bob, posted[0]).locator(".msg__text")).to_have_text("first, edited")
        await expect(by_id(bob, posted[1]).locator(".reaction")).to_have_text("🎉 1")
        await expect(by_id(bob, posted[2]).locator(".msg__text")).to_have_text(
            "This message was deleted."
        )
        await expect(bob.locator("#messages li.msg[data-id]")).to_have_count(4)
        # One sync brought it all: the change seqs are positions, not holes to fill.
        assert [e[0] for e in sent].count("sync") == 1, sent

        # And live changes after it apply in place, with no sync.
        ack = await alice.call(
            "edit-message", {"room": "general", "id": posted[0], "text": "edited twice"}, timeout=5
        )
        assert ack["ok"], ack
        await expect(by_id(bob, posted[0]).locator(".msg__text")).to_have_text("edited twice")
        assert [e[0] for e in sent].count("sync") == 1, sent
    finally:
        await alice.disconnect()


async def test_the_keyboard_reaches_every_action(server_url: str, new_page: NewPage) -> None:
    alice, bob = await two_people(new_page, server_url)
    await send(alice, "one")
    await send(alice, "two")
    two = message(alice, "two")
    await expect(two).to_have_count(1)

    # ArrowUp in an empty box edits your last message; Escape leaves it as it was.
    await alice.focus("#message-input")
    await alice.keyboard.press("ArrowUp")
    await expect(alice.locator("#message-input")).to_have_value("two")
    await alice.keyboard.press("Escape")
    await expect(alice.locator("#composer-context")).to_be_hidden()
    await expect(alice.locator("#message-input")).to_have_value("")
    await alice.keyboard.press("ArrowUp")
    await alice.keyboard.type(" (fixed)")
    await alice.keyboard.press("Enter")
    await expect(message(bob, "two (fixed)")).to_have_count(1)

    # The actions are buttons in the tab order: focus shows them, Enter uses them.
    one = message(bob, "one")
    react = one.locator('button[data-action="react"]')
    await react.focus()
    await expect(one.locator(".msg__tools")).to_have_css("opacity", "1")
    await bob.keyboard.press("Enter")
    picker = bob.locator("#reaction-picker")
    await expect(picker).to_be_visible()
    await expect(picker.locator("button").first).to_be_focused()
    await bob.keyboard.press("ArrowRight")
    await bob.keyboard.press("Enter")
    await expect(picker).to_be_hidden()
    await expect(react).to_be_focused()
    second = await picker.locator("button").nth(1).get_attribute("data-pick")
    await expect(message(alice, "one").locator(".reaction")).to_have_text(f"{second} 1")
    # Escape closes the picker without reacting.
    await bob.keyboard.press("Enter")
    await expect(picker).to_be_visible()
    await bob.keyboard.press("Escape")
    await expect(picker).to_be_hidden()
    await expect(react).to_be_focused()


async def test_a_tap_shows_a_messages_actions_on_a_phone(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url, width=390, height=780)
    await join(alice, "alice")
    await send(alice, "tap me")
    mine = message(alice, "tap me")
    await mine.locator(".msg__text").click()
    await expect(mine).to_have_class("msg msg--own msg--active")
    await expect(mine.locator(".msg__tools")).to_have_css("opacity", "1")
    await alice.screenshot(path=tmp_path / "phone-actions.png", animations="disabled")
    await mine.locator(".msg__text").click()
    await expect(mine).to_have_class("msg msg--own")


async def test_a_mention_is_highlighted_for_the_person_named(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = await two_people(new_page, server_url)
    await send(alice, "@bob can you look?")
    await send(alice, "nothing for bob here")
    await expect(message(bob, "@bob can you look?")).to_have_class("msg msg--mention")
    await expect(message(bob, "nothing for bob here")).to_have_class("msg")
    # The writer is not the one named.
    await expect(message(alice, "@bob can you look?")).to_have_class("msg msg--own")
    await bob.screenshot(path=tmp_path / "mention.png", animations="disabled")


async def test_a_rooms_owner_deletes_anyones_message_and_members_only_their_own(
    server_url: str, new_page: NewPage
) -> None:
    alice, bob = await two_people(new_page, server_url)
    await create_room(alice, "ops")
    await join_listed_room(bob, "ops")
    await expect(bob.locator("#room-title")).to_have_text("# ops")
    await send(bob, "spam spam")
    await send(alice, "owner here")
    spam = message(alice, "spam spam")
    await expect(spam.locator('button[data-action="delete"]')).to_have_count(1)
    await expect(spam.locator('button[data-action="edit"]')).to_have_count(0)
    theirs = message(bob, "owner here")
    await expect(theirs.locator('button[data-action="delete"]')).to_have_count(0)

    alice.once("dialog", lambda dialog: dialog.accept())
    await tool(alice, spam, "delete")
    tombstone = bob.locator("#messages li.msg--deleted")
    await expect(tombstone.locator(".msg__text")).to_have_text("This message was deleted.")
