"""At phone width: the drawer closes on any room tap and has a close button, and every
control is at least 44 px each way."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.e2e.pages import NewPage, connect_client, create_room, join, room_link

pytestmark = pytest.mark.e2e

MIN_TAP_PX = 44
# Everything a finger can press.
CONTROLS = "button, a[href], input, textarea, summary, select"


async def small_controls(page: Page) -> list[str]:
    """The visible controls under 44 x 44 px, described for the failure message."""
    found = await page.locator(CONTROLS).evaluate_all(
        """(els, min) => els
            .filter((el) => el.checkVisibility() && el.getClientRects().length > 0)
            .map((el) => [el, el.getBoundingClientRect()])
            .filter(([, r]) => r.width > 0 && (r.width < min || r.height < min))
            .map(([el, r]) => `${el.tagName.toLowerCase()}#${el.id || el.className}` +
                 ` ${Math.round(r.width)}x${Math.round(r.height)}`)""",
        MIN_TAP_PX,
    )
    return [str(item) for item in found]


async def test_the_drawer_closes_on_any_room_tap_and_has_a_close_button(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url, width=390, height=780)
    await join(alice, "alice")
    await create_room(alice, "design")
    drawer_open = alice.locator("body.sidebar-open")
    toggle = alice.locator("#sidebar-toggle")

    # The room already open: the tap still closes the drawer.
    await toggle.click()
    await expect(drawer_open).to_have_count(1)
    await expect(alice.locator("#sidebar-close")).to_be_visible()
    await alice.screenshot(path=tmp_path / "drawer.png", animations="disabled")
    await room_link(alice, "design").click()
    await expect(drawer_open).to_have_count(0)
    await expect(alice.locator("#room-title")).to_have_text("# design")

    # Another room: open it and close.
    await toggle.click()
    await room_link(alice, "general").click()
    await expect(drawer_open).to_have_count(0)
    await expect(alice.locator("#room-title")).to_have_text("# general")

    # The close button, and the focus goes back to the toggle.
    await toggle.click()
    await alice.click("#sidebar-close")
    await expect(drawer_open).to_have_count(0)
    await expect(toggle).to_be_focused()
    await expect(alice.locator("#sidebar-close")).to_be_hidden()


async def test_controls_are_at_least_44_px_at_phone_width(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url, width=390, height=780)
    await expect(alice.locator("#connection-status")).to_have_text("connected")
    assert await small_controls(alice) == [], "join screen"
    await join(alice, "alice")
    bob = await connect_client(server_url, "bob")
    try:
        await expect(alice.locator("#online-count")).to_have_text("2")
        assert await small_controls(alice) == [], "chat"
        await alice.click("#online-toggle")
        await expect(alice.locator("#online-list button[data-dm]")).to_be_visible()
        assert await small_controls(alice) == [], "online list"
        await alice.click("#online-toggle")
        await alice.click("#sidebar-toggle")
        await alice.click("#new-room-btn")
        await alice.click("#browse summary")
        await alice.screenshot(path=tmp_path / "drawer-forms.png", animations="disabled")
        assert await small_controls(alice) == [], "drawer"
    finally:
        await bob.disconnect()
