"""Older history loads as the reader scrolls up, without losing their place."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, join, message, post_messages, shown_seqs, shown_texts

pytestmark = pytest.mark.e2e

COUNT = 70
PAGE = 50  # join-room answers the latest 50


async def test_scroll_up_loads_older_history(server_url: str, new_page: NewPage) -> None:
    texts = [f"message {n:02d}" for n in range(1, COUNT + 1)]
    await post_messages(server_url, "general", texts)

    page = await new_page(server_url)
    await join(page, "reader")
    await page.reload()
    await expect(message(page, "message 70")).to_have_count(1)
    await expect(page.locator("#messages li.msg")).to_have_count(PAGE)
    assert await shown_texts(page) == texts[-PAGE:]
    await expect(message(page, "message 01")).to_have_count(0)

    log = page.locator("#messages")
    await log.evaluate("(el) => { el.scrollTop = 0; }")
    await expect(message(page, "message 01")).to_have_count(1)
    await expect(page.locator("#messages li.msg")).to_have_count(COUNT)
    assert await shown_texts(page) == texts
    assert await shown_seqs(page) == list(range(1, COUNT + 1))
    # The reader stays where they were (on message 21), not thrown to the new top.
    assert await log.evaluate("(el) => el.scrollTop") > 200
    await expect(message(page, "message 21")).to_be_in_viewport()

    await log.evaluate("(el) => { el.scrollTop = 0; }")
    await expect(page.locator("#messages .history-marker")).to_have_text(
        "This is the beginning of #general."
    )
