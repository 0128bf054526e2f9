"""Sending faster than the server allows: a clear error, then every message once, in order."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, join, message, pending, shown_texts

StartServer = Callable[..., AbstractAsyncContextManager[str]]

pytestmark = pytest.mark.e2e

# A tight limit, so that even a slow machine's round trips outrun it: 2 a second,
# bursts of 5 (the client sends its outbox one message at a time).
LIMITS = {"RTCHAT_RATE_LIMIT": "2", "RTCHAT_RATE_BURST": "5"}
COUNT = 12


async def test_burst_past_the_rate_limit(start_server: StartServer, new_page: NewPage) -> None:
    async with start_server(settings=LIMITS) as url:
        alice = await new_page(url)
        bob = await new_page(url)
        await join(alice, "alice")
        await join(bob, "bob")

        texts = [f"burst {n:02d}" for n in range(1, COUNT + 1)]
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
        await expect(alice.locator(".msg--pending .msg__status").first).to_contain_text("retrying")

        for page in (alice, bob):
            await expect(message(page, texts[-1])).to_have_count(1, timeout=20_000)
            await expect(pending(page)).to_have_count(0)
            assert await shown_texts(page) == texts
        await expect(alice.locator("#send-error")).to_be_empty()


async def test_refused_message_can_be_discarded(server_url: str, new_page: NewPage) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    # An outbox entry the server will refuse (only white space), as if typed before a reload.
    await alice.evaluate(
        """() => {
            const key = Object.keys(localStorage).find((k) => k.endsWith('.room'));
            const outbox = key.replace(/\\.room$/, '.outbox');
            localStorage.setItem(outbox, JSON.stringify([{
                clientId: 'refused-1', room: 'general', text: '   ',
                createdAt: new Date().toISOString(), error: null,
            }]));
        }"""
    )
    await alice.reload()
    failed = alice.locator("#messages li.msg--failed")
    await expect(failed).to_have_count(1)
    await expect(failed.locator(".msg__status")).to_contain_text("not sent")
    await expect(alice.locator("#send-error")).not_to_be_empty()

    await failed.get_by_role("button", name="Discard").click()
    await expect(failed).to_have_count(0)
    await expect(alice.locator("#send-error")).to_be_empty()
    assert await alice.evaluate(
        "() => Object.keys(localStorage).filter((k) => k.endsWith('.outbox'))"
        ".map((k) => localStorage.getItem(k))"
    ) == ["[]"]
