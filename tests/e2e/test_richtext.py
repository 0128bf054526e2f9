"""Links and a small markdown in messages, made of DOM nodes: user text is never HTML."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Locator, Page, expect

from tests.e2e.pages import NewPage, send, two_people

pytestmark = pytest.mark.e2e

FORMATTED = (
    "see https://example.com/a?b=1&c=2, then **bold**, *italic*, _also italic_, `x < y`\n"
    "```\nfor i in range(3):\n    print('<b>', i)\n```\n"
    "and http://example.org/path."
)
HOSTILE = [
    '<img src=x onerror="window.pwned = 1">',
    "javascript:window.pwned=2",
    "[click](javascript:window.pwned=3)",
    "**<script>window.pwned = 4</script>**",
    "`<iframe src=javascript:window.pwned=5>`",
    "ftp://example.com/file and data:text/html,<b>hi</b>",
    'https://example.com/"onmouseover="window.pwned=6',
]


def last_text(page: Page) -> Locator:
    return page.locator("#messages li.msg[data-id] .msg__text").last


async def test_links_and_markdown_render_as_elements(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = await two_people(new_page, server_url)
    await send(alice, FORMATTED)
    for page in (alice, bob):
        text = last_text(page)
        await expect(text.locator("a")).to_have_count(2)
        first, second = text.locator("a").first, text.locator("a").last
        await expect(first).to_have_attribute("href", "https://example.com/a?b=1&c=2")
        await expect(first).to_have_text("https://example.com/a?b=1&c=2")  # not the comma
        await expect(second).to_have_attribute("href", "http://example.org/path")
        for link in (first, second):
            await expect(link).to_have_attribute("target", "_blank")
            await expect(link).to_have_attribute("rel", "noopener noreferrer")
        await expect(text.locator("strong")).to_have_text("bold")
        await expect(text.locator("em")).to_have_text(["italic", "also italic"])
        await expect(text.locator("code.md-code")).to_have_text("x < y")
        await expect(text.locator("pre.md-block code")).to_have_text(
            "for i in range(3):\n    print('<b>', i)"
        )
        await expect(text.locator("b")).to_have_count(0)
    await bob.screenshot(path=tmp_path / "markdown.png", animations="disabled")
    await bob.emulate_media(color_scheme="dark")
    await bob.screenshot(path=tmp_path / "markdown-dark.png", animations="disabled")


async def test_markup_and_script_urls_stay_text(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = await two_people(new_page, server_url)
    for text in HOSTILE:
        await send(alice, text)
    for page in (alice, bob):
        texts = page.locator("#messages li.msg[data-id] .msg__text")
        await expect(texts).to_have_count(len(HOSTILE))
        shown = await texts.all_inner_texts()
        # Every character as written, but markdown's own marks.
        assert shown[0] == HOSTILE[0]
        assert shown[1] == HOSTILE[1]
        assert shown[2] == HOSTILE[2]
        assert shown[3] == "<script>window.pwned = 4</script>"
        assert shown[4] == "<iframe src=javascript:window.pwned=5>"
        assert shown[5] == HOSTILE[5]
        messages = page.locator("#messages")
        for tag in ("img", "script", "iframe", "b"):
            await expect(messages.locator(tag)).to_have_count(0)
        # Only the one https URL is a link, and it ends where the quote begins.
        links = messages.locator("a")
        await expect(links).to_have_count(1)
        await expect(links).to_have_attribute("href", "https://example.com/")
        assert await links.get_attribute("onmouseover") is None
        assert await page.evaluate("window.pwned") is None
    await bob.screenshot(path=tmp_path / "hostile.png", animations="disabled")
