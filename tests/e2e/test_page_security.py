"""The pages under their Content-Security-Policy, and what a page of another site can do
with rtchat: frame it (no), open a Socket.IO connection to it (no)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, expect

from tests.e2e import pages

pytestmark = pytest.mark.e2e

EVIL = "http://evil.example/"

# Recorded in the page before any of its scripts run.
WATCH_POLICY = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    context = await browser.new_context()
    await context.add_init_script(WATCH_POLICY)
    try:
        yield context
    finally:
        await context.close()


async def _violations(page: Page) -> list[str]:
    found: list[str] = await page.evaluate("window.__violations")
    return found


async def test_our_page_works_under_its_policy(server_url: str, context: BrowserContext) -> None:
    page = await context.new_page()
    await page.goto(server_url)
    await pages.join(page, "alice")
    await pages.send(page, "hello under a policy")
    await expect(pages.message(page, "hello under a policy")).to_have_count(1)
    assert await _violations(page) == []


async def test_the_seed_page_works_under_the_policy(
    seed_server_url: str, context: BrowserContext
) -> None:
    page = await context.new_page()
    await page.goto(seed_server_url)
    # Its inline style attribute (the hidden chat) still applies.
    await expect(page.locator("#chat-container")).to_be_hidden()
    await page.wait_for_function("() => typeof socket !== 'undefined' && socket.connected")
    await page.fill("#username-input", "seeder")
    await page.click("#join-btn")
    await expect(page.locator("#chat-container")).to_be_visible()
    await page.fill("#message-input", "hello from the seed page")
    await page.click("#send-btn")
    await expect(page.locator("#messages-container .message")).to_have_text(
        ["seeder: hello from the seed page"]
    )
    assert await _violations(page) == []


async def _evil_page(context: BrowserContext, body: str) -> Page:
    """A page of another site (evil.example, answered by the browser's router)."""
    await context.route(EVIL, lambda route: route.fulfill(content_type="text/html", body=body))
    page = await context.new_page()
    await page.goto(EVIL)
    return page


async def test_another_site_cannot_frame_rtchat(server_url: str, context: BrowserContext) -> None:
    page = await _evil_page(context, f'<iframe id="chat" src="{server_url}/"></iframe>')
    (frame,) = [f for f in page.frames if f is not page.main_frame]
    await expect(page.locator("#chat")).to_be_attached()
    assert await frame.locator("#join-form").count() == 0
    assert not frame.url.startswith(server_url)  # Chromium shows its error page instead


async def test_another_site_cannot_open_a_socket(server_url: str, context: BrowserContext) -> None:
    page = await _evil_page(context, "<p>evil</p>")
    socket_url = server_url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    outcome = await page.evaluate(
        """(url) => new Promise((resolve) => {
             const ws = new WebSocket(url);
             ws.onmessage = (e) => resolve('message ' + e.data);
             ws.onclose = (e) => resolve('closed ' + e.code);
           })""",
        socket_url,
    )
    assert outcome == "closed 1006"  # the handshake was answered 403
