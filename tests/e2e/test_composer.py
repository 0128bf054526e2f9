"""The composer: several lines, a counter near the server's limit, never a silent cut."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Locator, expect

from rtchat.domain.rules import MAX_MESSAGE_LENGTH
from tests.e2e.pages import NewPage, join, message, pending, two_people

pytestmark = pytest.mark.e2e


async def lines(msg: Locator) -> int:
    """How many lines a message's text takes on the page."""
    count = await msg.locator(".msg__text").evaluate(
        """(el) => {
            const range = document.createRange();
            range.selectNodeContents(el);
            return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
        }"""
    )
    return int(count)


async def test_enter_sends_shift_enter_adds_a_line_and_pasted_lines_stay(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice, bob = await two_people(new_page, server_url)
    composer = alice.locator("#message-input")

    await composer.click()
    await alice.keyboard.type("first line")
    await alice.keyboard.press("Shift+Enter")
    await alice.keyboard.type("second line")
    await expect(composer).to_have_value("first line\nsecond line")
    await alice.keyboard.press("Enter")
    await expect(composer).to_have_value("")

    # A paste keeps its line breaks, as typed lines do.
    await alice.context.grant_permissions(["clipboard-read", "clipboard-write"])
    await alice.evaluate("navigator.clipboard.writeText('pasted one\\npasted two\\npasted three')")
    await composer.click()
    await alice.keyboard.press("Control+V")
    await expect(composer).to_have_value("pasted one\npasted two\npasted three")
    await alice.keyboard.press("Enter")

    for page in (alice, bob):
        typed = message(page, "first line\nsecond line")
        await expect(typed).to_have_count(1)
        pasted = message(page, "pasted one\npasted two\npasted three")
        await expect(pasted).to_have_count(1)
        # Shown as lines, not run together.
        assert await lines(typed) == 2
        assert await lines(pasted) == 3
    await bob.screenshot(path=tmp_path / "multiline.png", animations="disabled")


async def test_a_counter_near_the_limit_and_no_send_over_it(
    server_url: str, new_page: NewPage, tmp_path: Path
) -> None:
    alice = await new_page(server_url)
    await join(alice, "alice")
    composer = alice.locator("#message-input")
    counter = alice.locator("#char-count")
    # The page's limit is the server's.
    limit = await composer.get_attribute("data-max-length")
    assert limit == str(MAX_MESSAGE_LENGTH)

    await composer.fill("x" * (MAX_MESSAGE_LENGTH // 2))
    await expect(counter).to_be_hidden()
    await composer.fill("x" * (MAX_MESSAGE_LENGTH - 25))
    await expect(counter).to_be_visible()
    await expect(counter).to_have_text("25 left")

    # Over the limit: nothing is cut and nothing goes out; the hint says by how much.
    too_long = "y" * (MAX_MESSAGE_LENGTH + 7)
    await composer.fill(too_long)
    await expect(counter).to_have_text("7 over the limit")
    await expect(composer).to_have_attribute("aria-invalid", "true")
    await composer.press("Enter")
    error = alice.locator("#send-error")
    await expect(error).to_have_text(
        f"Messages can be at most {MAX_MESSAGE_LENGTH} characters; this one has "
        f"{MAX_MESSAGE_LENGTH + 7}. Shorten it by 7 to send it."
    )
    await expect(composer).to_have_value(too_long)
    await expect(pending(alice)).to_have_count(0)
    await alice.screenshot(path=tmp_path / "over-limit.png", animations="disabled")

    # Exactly the limit goes through, whole; an emoji counts as one, as the server counts.
    exact = "🙂" + "z" * (MAX_MESSAGE_LENGTH - 1)
    await composer.fill(exact)
    await expect(counter).to_have_text("0 left")
    await composer.press("Enter")
    await expect(composer).to_have_value("")
    await expect(counter).to_be_hidden()
    await expect(message(alice, exact)).to_have_count(1)
