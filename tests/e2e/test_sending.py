"""Sending faster than the server allows: a clear error, then every message once, in order."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, join, message, pending, shown_texts

pytestmark = pytest.mark.e2e

BURST = 60  # the server allows bursts of 20 and 10 a second after that


async def test_burst_past_the_rate_limit(server_url: str, new_page: NewPage) -> None:
    alice = await new_page(server_url)
    bob = await new_page(server_url)
    await join(alice, "alice")
    await join(bob, "bob")

    texts = [f"burst {n:02d}" for n in range(1, BURST + 1)]
    # Faster than anyone types: submit the composer form again and again.
    await alice.evaluate(
        """(texts) => {
            const input = document.getElementById('message-input');
            const form = document.getElementById('message-form');
            for (const text of texts) {
                input.value = text;
                form.requestSubmit();
            }
        }""",
        texts,
    )
    # What the server refused for now says so, and is retried on its own.
    await expect(alice.locator("#send-error")).to_contain_text("too fast")

    for page in (alice, bob):
        await expect(message(page, texts[-1])).to_have_count(1, timeout=20_000)
        await expect(pending(page)).to_have_count(0)
        assert await shown_texts(page) == texts
    await expect(alice.locator("#send-error")).to_be_empty()
