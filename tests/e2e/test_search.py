"""Searching messages in the page: found in every room of the account, marked, a page at a
time, never from a room the reader cannot read; a result opens its room."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, connect_client, join, message, post_messages

pytestmark = pytest.mark.e2e


async def test_search_finds_marks_pages_and_opens(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    bob = await connect_client(server_url, "bob")
    try:
        for room in ("ops", "secret"):
            ack = await bob.call("create-room", {"name": room}, timeout=5)
            assert ack["ok"], ack
        ack = await bob.call("open-dm", {"username": "alice"}, timeout=5)
        assert ack["ok"], ack
        dm = ack["data"]["room"]["name"]
        for room, text in (
            ("general", "the deploy is at noon"),
            (dm, "Deploy went fine?"),
            ("secret", "deploy keys are here"),  # alice is no member: never found
        ):
            ack = await bob.call("send-message", {"room": room, "text": text}, timeout=5)
            assert ack["ok"], ack
    finally:
        await bob.disconnect()
    # More than a page of hits in a room alice joins.
    await post_messages(server_url, "general", [f"deploy note {i}" for i in range(25)])

    await alice.fill("#search-input", "DEPLOY")
    await alice.press("#search-input", "Enter")
    panel = alice.locator("#search-panel")
    await expect(panel).to_be_visible()
    await expect(alice.locator("#search-heading")).to_have_text("Results for “DEPLOY”")
    results = alice.locator("#search-results .search-result")
    await expect(results).to_have_count(20)
    # Newest first, the word marked as written.
    await expect(results.first.locator(".search-hit")).to_have_text("deploy")
    await expect(results.first.locator(".search-result__text")).to_have_text("deploy note 24")
    await alice.screenshot(path=tmp_path / "search.png", animations="disabled")
    await alice.click("#search-more")
    await expect(results).to_have_count(27)
    await expect(alice.locator("#search-more")).to_be_hidden()
    texts = await results.locator(".search-result__text").all_inner_texts()
    assert "deploy keys are here" not in texts
    assert texts[-2:] == ["Deploy went fine?", "the deploy is at noon"]
    await expect(results.nth(25).locator(".search-result__room")).to_have_text("@bob")

    # A result opens its room; Escape had closed nothing else.
    await results.nth(25).click()
    await expect(panel).to_be_hidden()
    await expect(alice.locator("#room-title")).to_have_text("@ bob")
    await expect(message(alice, "Deploy went fine?")).to_have_count(1)

    # Nothing found says so; Escape closes and gives the box back.
    await alice.fill("#search-input", "kubernetes")
    await alice.press("#search-input", "Enter")
    await expect(alice.locator("#search-status")).to_have_text("Nothing found for “kubernetes”.")
    await alice.keyboard.press("Escape")
    await expect(panel).to_be_hidden()
    await expect(alice.locator("#search-input")).to_be_focused()
