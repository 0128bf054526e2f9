"""Helpers that drive rtchat's browser client the way a person would."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import socketio
from playwright.async_api import Locator, Page, Request, WebSocket, expect

NewPage = Callable[..., Awaitable[Page]]


async def join(page: Page, name: str, *, click: bool = False) -> None:
    await page.fill("#username-input", name)
    if click:
        await page.click("#join-btn")
    else:
        await page.press("#username-input", "Enter")
    await expect(page.locator("#chat-screen")).to_be_visible()
    await expect(page.locator("#user-info")).to_have_text(f"you are {name}")
    await expect(page.locator("#room-title")).to_have_text("# general")


async def two_people(new_page: NewPage, url: str) -> tuple[Page, Page]:
    """alice and bob, each on a page of their own, joined in #general."""
    alice, bob = await new_page(url), await new_page(url)
    await join(alice, "alice")
    await join(bob, "bob")
    return alice, bob


async def send(page: Page, text: str) -> None:
    await page.fill("#message-input", text)
    await page.press("#message-input", "Enter")
    await expect(page.locator("#message-input")).to_have_value("")


def message(page: Page, text: str, *, author: str | None = None) -> Locator:
    """Delivered messages (they carry the server's id) whose text is exactly `text`."""
    selector = "#messages li.msg[data-id]"
    if author is not None:
        selector += f'[data-author="{author}"]'
    return page.locator(selector).filter(has=page.get_by_text(text, exact=True))


def pending(page: Page) -> Locator:
    return page.locator("#messages li.msg--pending")


async def shown_texts(page: Page) -> list[str]:
    """The delivered messages of the open room, top to bottom."""
    return await page.locator("#messages li.msg[data-id] .msg__text").all_inner_texts()


async def shown_seqs(page: Page) -> list[int]:
    seqs = await page.locator("#messages li.msg[data-id]").evaluate_all(
        "items => items.map((li) => Number(li.dataset.seq))"
    )
    return [int(s) for s in seqs]


async def _reveal_sidebar(page: Page) -> None:
    # Below 700 px the sidebar is a drawer behind the toggle.
    toggle = page.locator("#sidebar-toggle")
    if await toggle.is_visible() and await toggle.get_attribute("aria-expanded") != "true":
        await toggle.click()


def room_link(page: Page, room: str) -> Locator:
    return page.locator(f'#sidebar button.room-link[data-room="{room}"]')


async def open_room(page: Page, room: str, title: str | None = None) -> None:
    await _reveal_sidebar(page)
    await room_link(page, room).click()
    await expect(page.locator("#room-title")).to_have_text(title or f"# {room}")


async def create_room(page: Page, name: str, topic: str = "") -> None:
    await _reveal_sidebar(page)
    await page.click("#new-room-btn")
    await page.fill("#room-name-input", name)
    if topic:
        await page.fill("#room-topic-input", topic)
    await page.press("#room-name-input", "Enter")
    await expect(page.locator("#room-title")).to_have_text(f"# {name}")


async def join_listed_room(page: Page, name: str) -> None:
    """Join a public room from the "Browse rooms" list."""
    await _reveal_sidebar(page)
    browse = page.locator("#browse")
    if await browse.get_attribute("open") is None:
        await page.click("#browse summary")
    await page.click(f'#browse-list button[data-join="{name}"]')
    await expect(page.locator("#room-title")).to_have_text(f"# {name}")


async def open_dm(page: Page, username: str) -> None:
    await _reveal_sidebar(page)
    await page.click("#new-dm-btn")
    await page.fill("#dm-username-input", username)
    await page.press("#dm-username-input", "Enter")
    await expect(page.locator("#room-title")).to_have_text(f"@ {username}")


async def connect_client(url: str, name: str) -> socketio.AsyncClient:
    """A python-socketio client that joined as `name` (closes with `.disconnect()`)."""
    client = socketio.AsyncClient(reconnection=False)
    await client.connect(url, transports=["websocket"])
    ack = await client.call("user-joined", name, timeout=5)
    assert ack["ok"], ack
    return client


async def post_messages(url: str, room: str, texts: list[str], *, per_client: int = 15) -> None:
    """Post `texts` in order, spread over several users so no one hits the rate limit."""
    for start in range(0, len(texts), per_client):
        client = await connect_client(url, f"poster{start // per_client}")
        try:
            if room != "general":
                ack = await client.call("join-room", {"room": room}, timeout=5)
                assert ack["ok"], ack
            for text in texts[start : start + per_client]:
                payload = {"room": room, "text": text, "clientId": f"{room}-{text}"}
                ack = await client.call("send-message", payload, timeout=5)
                assert ack["ok"], ack
        finally:
            await client.disconnect()
        await asyncio.sleep(0)


_EVENT = re.compile(r"42\d*(\[.*)", re.DOTALL)  # Engine.IO message + Socket.IO EVENT, ack id


def record_sent_events(page: Page) -> list[list[Any]]:
    """Every Socket.IO event the page sends from now on, as `[name, *args]`, read off the
    wire: WebSocket frames and long-polling POST bodies alike."""
    sent: list[list[Any]] = []

    def read(payload: str | bytes | None) -> None:
        if not isinstance(payload, str):
            return
        for packet in payload.split("\x1e"):  # several packets in one polling body
            if found := _EVENT.fullmatch(packet):
                sent.append(json.loads(found.group(1)))

    def on_websocket(websocket: WebSocket) -> None:
        websocket.on("framesent", read)

    def on_request(request: Request) -> None:
        if request.method == "POST" and "/socket.io/" in request.url:
            read(request.post_data)

    page.on("websocket", on_websocket)
    page.on("request", on_request)
    return sent


async def next_sent(sent: list[list[Any]], name: str, after: int, within: float = 10) -> Any:
    """The arguments of the first `name` event recorded at index `after` or later."""
    async with asyncio.timeout(within):
        while True:
            for event in sent[after:]:
                if event[0] == name:
                    return event[1:]
            await asyncio.sleep(0.05)


AXE_SCRIPT = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# What axe-core finds to run in the page: every rule, the violations only.
_AXE_RUN = """async () => {
  const result = await axe.run(document, { resultTypes: ['violations'] });
  return result.violations.map((v) => ({
    id: v.id,
    impact: v.impact,
    help: v.help,
    nodes: v.nodes.slice(0, 5).map((n) => n.target.join(' ')),
  }));
}"""


async def serious_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (the context
    must bypass the page's CSP: axe comes in as an inline script)."""
    if not await page.evaluate("typeof window.axe === 'object'"):
        await page.add_script_tag(content=AXE_SCRIPT.read_text())
    found: list[dict[str, Any]] = await page.evaluate(_AXE_RUN)
    return [v for v in found if v["impact"] in ("serious", "critical")]
