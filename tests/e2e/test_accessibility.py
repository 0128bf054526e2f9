"""axe-core (npm's) in the page on the main screens: light and dark, desktop and phone
width, and no serious or critical violation (contrast of 4.5:1 among them)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page, expect

from tests.e2e.pages import (
    connect_client,
    create_room,
    join,
    message,
    send,
    serious_violations,
)

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 780}
OpenPage = Callable[[dict[str, int], str], Awaitable[Page]]


@pytest.fixture
async def open_page(browser: Browser, server_url: str) -> AsyncIterator[OpenPage]:
    errors: list[str] = []

    async def open_(viewport: dict[str, int], scheme: str) -> Page:
        # axe comes in as an inline script, which the page's CSP would refuse.
        context = await browser.new_context(
            viewport=viewport,  # type: ignore[arg-type]
            color_scheme=scheme,  # type: ignore[arg-type]
            bypass_csp=True,
        )
        page = await context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(server_url)
        return page

    yield open_
    assert errors == []


class Screens:
    """Every screen's violations, asserted together at the end so one run shows all."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.found: dict[str, list[dict[str, Any]]] = {}

    async def check(self, page: Page, screen: str) -> None:
        await page.screenshot(path=self.tmp_path / f"{screen}.png", animations="disabled")
        if violations := await serious_violations(page):
            self.found[screen] = violations


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_main_screens_have_no_serious_violation(
    open_page: OpenPage,
    server_url: str,
    viewport: dict[str, int],
    scheme: str,
    tmp_path: Path,
) -> None:
    phone = viewport is PHONE
    screens = Screens(tmp_path)
    alice = await open_page(viewport, scheme)
    await expect(alice.locator("#connection-status")).to_have_text("connected")
    await screens.check(alice, "join")
    # A refused name: the error under the field.
    await alice.fill("#username-input", "x" * 80)
    await alice.press("#username-input", "Enter")
    await expect(alice.locator("#join-error")).not_to_be_empty()
    await screens.check(alice, "join-error")

    await join(alice, "alice")
    bob = await connect_client(server_url, "bob")
    try:
        ack = await bob.call(
            "send-message",
            {"room": "general", "text": "hi **alice**, see https://example.com and `code`"},
            timeout=5,
        )
        assert ack["ok"], ack
        await send(alice, "hello bob\nsecond line")
        await expect(message(alice, "hello bob\nsecond line")).to_have_count(1)
        await screens.check(alice, "chat")

        # A message's actions, its reactions, a reply's quote, the picker, an edit.
        mine_id = await message(alice, "hello bob\nsecond line").get_attribute("data-id")
        mine = alice.locator(f'#messages li.msg[data-id="{mine_id}"]')
        for event, payload in (
            ("react", {"id": mine_id, "emoji": "🎉"}),
            ("send-message", {"text": "a reply", "replyTo": mine_id}),
        ):
            ack = await bob.call(event, {"room": "general", **payload}, timeout=5)
            assert ack["ok"], ack
        await expect(mine.locator(".reaction")).to_have_count(1)
        await expect(message(alice, "a reply").locator(".msg__quote")).to_have_count(1)
        await mine.locator('button[data-action="react"]').focus()
        await screens.check(alice, "message-actions")
        await alice.keyboard.press("Enter")
        await expect(alice.locator("#reaction-picker")).to_be_visible()
        await screens.check(alice, "reaction-picker")
        await alice.keyboard.press("Escape")
        await mine.locator('button[data-action="edit"]').click()
        await expect(alice.locator("#composer-context")).to_be_visible()
        await screens.check(alice, "editing")
        await alice.keyboard.press("Escape")

        # Search results, the words found marked.
        if phone:
            await alice.click("#sidebar-toggle")
        await alice.fill("#search-input", "hello")
        await alice.press("#search-input", "Enter")
        await expect(alice.locator("#search-results .search-hit")).to_have_count(1)
        await screens.check(alice, "search")
        await alice.keyboard.press("Escape")
        await expect(alice.locator("#search-panel")).to_be_hidden()

        await alice.click("#online-toggle")
        await expect(alice.locator("#online-list button[data-dm]")).to_have_count(1)
        await screens.check(alice, "online")
        await alice.click("#online-toggle")

        await create_room(alice, "design", "Pixels and words")
        await screens.check(alice, "room")

        if phone:
            await alice.click("#sidebar-toggle")
            await expect(alice.locator("#sidebar-close")).to_be_visible()
            await alice.click("#new-dm-btn")
            await screens.check(alice, "drawer")
            await alice.click("#sidebar-close")

        # Offline: the banner, and a message waiting.
        await alice.context.set_offline(True)
        await expect(alice.locator("#connection-banner")).to_be_visible()
        await send(alice, "written offline")
        await screens.check(alice, "offline")
        await alice.context.set_offline(False)
    finally:
        await bob.disconnect()
    assert not screens.found, json.dumps(screens.found, indent=1)
