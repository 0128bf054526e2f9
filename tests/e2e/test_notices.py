"""Join, leave and online notices fold into one line so they do not fill the timeline."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.e2e.pages import NewPage, connect_client, join, send

pytestmark = pytest.mark.e2e


async def test_presence_notices_fold_into_one_line(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    notices = alice.locator("#messages li.notice")
    clients = [await connect_client(server_url, name) for name in ("bob", "carol", "dave")]
    try:
        await expect(notices).to_have_count(1)
        await expect(notices).to_contain_text("3 people are online")
        title = await notices.get_attribute("title")
        assert title == "bob is online\ncarol is online\ndave is online"
        await clients[0].disconnect()
        await expect(notices).to_contain_text("carol and dave are online · bob went offline")
        await alice.screenshot(path=tmp_path / "folded.png", animations="disabled")

        # A message ends the run: what comes after it is a line of its own.
        await send(alice, "hello all")
        await clients[1].disconnect()
        await expect(notices).to_have_count(2)
        await expect(notices.last).to_contain_text("carol went offline")
    finally:
        for client in clients:
            await client.disconnect()
