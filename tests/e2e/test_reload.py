"""A reload keeps who you are, the open room and its history; the outbox survives it."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.e2e.pages import (
    NewPage,
    create_room,
    join,
    message,
    pending,
    send,
    shown_texts,
)

pytestmark = pytest.mark.e2e


async def expect_signed_in(page: Page, name: str, room_title: str) -> None:
    await expect(page.locator("#connection-status")).to_have_text("connected")
    await expect(page.locator("#join-screen")).to_be_hidden()
    await expect(page.locator("#user-info")).to_have_text(f"you are {name}")
    await expect(page.locator("#room-title")).to_have_text(room_title)


async def test_reload_keeps_identity_room_and_history(server_url: str, new_page: NewPage) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    await create_room(alice, "notes", "Things to remember")
    texts = ["first note", "second note", "third note"]
    for text in texts:
        await send(alice, text)
    await expect(message(alice, "third note")).to_have_count(1)

    await alice.reload()
    # Straight back in: the join screen never shows, the token still names alice.
    await expect(alice.locator("#join-screen")).to_be_hidden()
    await expect_signed_in(alice, "alice", "# notes")
    for text in texts:
        await expect(message(alice, text)).to_have_count(1)
    assert await shown_texts(alice) == texts
    await expect(alice.locator("#online-count")).to_have_text("1")


async def test_outbox_survives_a_reload(server_url: str, new_page: NewPage) -> None:
    alice = await new_page(server_url)
    bob = await new_page(server_url)
    await join(alice, "alice")
    await join(bob, "bob")
    await send(bob, "hi all")
    await expect(message(bob, "hi all")).to_have_count(1)

    # bob writes while offline, then closes the tab before it could go out.
    context = bob.context
    await context.set_offline(True)
    await expect(bob.locator("#connection-status")).not_to_have_text("connected")
    await send(bob, "kept in the outbox")
    await expect(pending(bob)).to_have_count(1)
    await bob.close()
    await context.set_offline(False)

    # The same browser opens rtchat again: bob is still bob and the message goes out once.
    again = await context.new_page()
    errors: list[str] = []
    again.on("pageerror", lambda exc: errors.append(str(exc)))
    await again.goto(server_url)
    await expect_signed_in(again, "bob", "# general")
    for page in (again, alice):
        await expect(message(page, "kept in the outbox", author="bob")).to_have_count(1)
        await expect(message(page, "hi all", author="bob")).to_have_count(1)
        await expect(pending(page)).to_have_count(0)
    assert await shown_texts(again) == ["hi all", "kept in the outbox"]
    outboxes = await again.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.endsWith('.outbox'))"
        ".map((k) => JSON.parse(localStorage.getItem(k)))"
    )
    assert outboxes == [[]]
    assert errors == []
