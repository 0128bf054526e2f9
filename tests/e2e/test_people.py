"""People: a DM from the online list, and names offered from who is online."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, connect_client, join, message, send, two_people

pytestmark = pytest.mark.e2e


async def test_a_name_in_the_online_list_opens_a_dm(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = await two_people(new_page, server_url)
    # alice herself is not a button; bob is.
    online = alice.locator("#online-list")
    await expect(online.locator("button[data-dm]")).to_have_count(1)
    await expect(online.locator('li[data-username="alice"] button')).to_have_count(0)
    # Narrower than three columns, the list opens from the "online" badge.
    await alice.click("#online-toggle")
    await alice.screenshot(path=tmp_path / "online-list.png", animations="disabled")
    await online.locator('button[data-dm="bob"]').click()
    await expect(online).to_be_hidden()
    await expect(alice.locator("#room-title")).to_have_text("@ bob")
    await send(alice, "hello from the list")
    await expect(bob.locator("#dm-list button.room-link[data-room]")).to_have_count(1)
    await bob.locator("#dm-list button.room-link").click()
    await expect(message(bob, "hello from the list")).to_have_count(1)


async def test_the_dm_form_offers_the_names_of_people_online(
    server_url: str, new_page: NewPage
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    others = [await connect_client(server_url, name) for name in ("bob", "carol")]
    try:
        options = alice.locator("#online-names option")
        await expect(options).to_have_count(2)
        assert sorted(await options.evaluate_all("os => os.map((o) => o.value)")) == [
            "bob",
            "carol",
        ]
        await alice.click("#new-dm-btn")
        field = alice.locator("#dm-username-input")
        await expect(field).to_have_attribute("list", "online-names")
        await others[0].disconnect()
        await expect(options).to_have_count(1)
        await expect(options).to_have_attribute("value", "carol")
    finally:
        for client in others:
            await client.disconnect()


async def test_at_in_the_composer_offers_the_names_of_people_online(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    others = [await connect_client(server_url, name) for name in ("bob", "carol", "chris")]
    try:
        await expect(alice.locator("#online-count")).to_have_text("4")
        offered = alice.locator("#mention-list [role=option]")
        composer = alice.locator("#message-input")
        await composer.click()
        await alice.keyboard.type("hi @c")
        await expect(offered).to_have_text(["@carol", "@chris"])
        await expect(offered.first).to_have_attribute("aria-selected", "true")
        await alice.screenshot(path=tmp_path / "mention-list.png", animations="disabled")
        # Enter takes the name chosen, it does not send.
        await alice.keyboard.press("ArrowDown")
        await expect(offered.last).to_have_attribute("aria-selected", "true")
        await alice.keyboard.press("Enter")
        await expect(composer).to_have_value("hi @chris ")
        await expect(alice.locator("#mention-list")).to_be_hidden()

        await alice.keyboard.type("and @B")
        await expect(offered).to_have_text(["@bob"])
        await offered.click()
        await expect(composer).to_have_value("hi @chris and @bob ")
        await expect(composer).to_be_focused()
        # Escape closes the list; nobody online starts with "z".
        await alice.keyboard.type("@")
        await expect(offered).to_have_count(3)
        await alice.keyboard.press("Escape")
        await expect(offered).to_have_count(0)
        await alice.keyboard.type("z")
        await expect(offered).to_have_count(0)
        await alice.keyboard.press("Enter")
        await expect(message(alice, "hi @chris and @bob @z")).to_have_count(1)
    finally:
        for client in others:
            await client.disconnect()
