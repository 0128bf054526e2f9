"""A refused name says why: its owner is online, or it waits for them a while."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import expect

from rtchat.settings import Settings
from tests.e2e.pages import NewPage, join

pytestmark = pytest.mark.e2e


async def test_a_name_reserved_for_its_owner_says_for_how_long(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    other = await new_page(server_url)
    await other.fill("#username-input", "alice")
    await other.press("#username-input", "Enter")
    error = other.locator("#join-error")
    await expect(error).to_have_text(
        "Someone online is using that name right now. Pick another one."
    )

    await alice.context.close()
    # The server sees her go a moment after her page closes: ask again until it has.
    reserved = re.compile(r"reserved for its owner for (\d+) more seconds")
    async with asyncio.timeout(10):
        while not reserved.search(await error.inner_text()):
            await asyncio.sleep(0.2)
            await other.press("#username-input", "Enter")
    found = reserved.search(await error.inner_text())
    assert found is not None
    assert 0 < int(found.group(1)) <= Settings().name_grace
    await other.screenshot(path=tmp_path / "name-reserved.png", animations="disabled")
