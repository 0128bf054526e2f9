"""Going offline loses nothing and shows nothing twice, in either direction."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.e2e.pages import (
    NewPage,
    create_room,
    join,
    join_listed_room,
    message,
    pending,
    send,
    shown_seqs,
    shown_texts,
)

pytestmark = pytest.mark.e2e

# Socket.IO's backoff tops out at 5 s between attempts (plus jitter).
RECONNECT_TIMEOUT_MS = 20_000


async def test_offline_and_back(server_url: str, new_page: NewPage) -> None:
    alice = await new_page(server_url)
    bob = await new_page(server_url)
    await join(alice, "alice")
    await join(bob, "bob")
    await create_room(alice, "ops")
    await join_listed_room(bob, "ops")
    await send(alice, "before the outage")
    await expect(message(bob, "before the outage")).to_have_count(1)

    await bob.context.set_offline(True)
    await expect(bob.locator("#connection-status")).not_to_have_text("connected")

    # bob writes, into his outbox; alice carries on, and once she has her own messages
    # back she would have had bob's too, had it gone out.
    await send(bob, "written offline")
    sending = pending(bob)
    await expect(sending).to_have_count(1)
    await expect(sending.locator(".msg__status")).to_have_text("sending…")
    await expect(sending.locator(".msg__text")).to_have_text("written offline")
    missed = ["missed one", "missed two", "missed three"]
    for text in missed:
        await send(alice, text)
    await expect(message(alice, missed[-1])).to_have_count(1)
    await expect(message(alice, "written offline")).to_have_count(0)

    await bob.context.set_offline(False)
    status = bob.locator("#connection-status")
    await expect(status).to_have_text("connected", timeout=RECONNECT_TIMEOUT_MS)

    # Both pages end with the same story: every message once, in order, no gap.
    expected = ["before the outage", *missed, "written offline"]
    for page in (alice, bob):
        for text in expected:
            await expect(message(page, text)).to_have_count(1)
        await expect(pending(page)).to_have_count(0)
        assert await shown_texts(page) == expected
        seqs = await shown_seqs(page)
        assert seqs == list(range(seqs[0], seqs[0] + len(expected)))
