"""What the page shows of moderation: a role given, a mute, a removal, each said once to
the person it was done to and to the room."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, connect_client, join, join_listed_room, message, send

pytestmark = pytest.mark.e2e


async def test_a_role_a_mute_and_a_removal_as_the_member_sees_them(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    carol = await connect_client(server_url, "carol")
    try:
        ack = await carol.call("create-room", {"name": "ops"}, timeout=5)
        assert ack["ok"], ack
        ack = await carol.call("send-message", {"room": "ops", "text": "rules first"}, timeout=5)
        assert ack["ok"], ack
        bob = await new_page(server_url)
        await join(bob, "bob")
        await join_listed_room(bob, "ops")
        await expect(bob.locator("#room-title")).to_have_text("# ops")
        rules = message(bob, "rules first")
        await expect(rules.locator('button[data-action="delete"]')).to_have_count(0)
        notices = bob.locator("#messages .notice")

        # Made a moderator: told so, and offered delete on others' messages.
        ack = await carol.call(
            "set-role", {"room": "ops", "username": "bob", "role": "moderator"}, timeout=5
        )
        assert ack["ok"], ack
        await expect(
            notices.filter(has_text="You are now a moderator of #ops (carol)")
        ).to_have_count(1)
        await expect(rules.locator('button[data-action="delete"]')).to_have_count(1)
        ack = await carol.call(
            "set-role", {"room": "ops", "username": "bob", "role": "member"}, timeout=5
        )
        assert ack["ok"], ack
        await expect(rules.locator('button[data-action="delete"]')).to_have_count(0)

        # Muted: told until when, and a message is refused with the reason.
        ack = await carol.call(
            "mute", {"room": "ops", "username": "bob", "seconds": 600}, timeout=5
        )
        assert ack["ok"], ack
        await expect(notices.filter(has_text="You were muted in #ops until")).to_have_count(1)
        await send(bob, "can I speak?")
        await expect(bob.locator("#send-error")).not_to_be_empty()
        await bob.screenshot(path=tmp_path / "muted.png", animations="disabled")

        # Removed: back in general, which says what happened.
        ack = await carol.call("kick", {"room": "ops", "username": "bob"}, timeout=5)
        assert ack["ok"], ack
        await expect(bob.locator("#room-title")).to_have_text("# general")
        await expect(notices.filter(has_text="You were removed from #ops by carol")).to_have_count(
            1
        )
        await expect(bob.locator('#sidebar button.room-link[data-room="ops"]')).to_have_count(0)
    finally:
        await carol.disconnect()
