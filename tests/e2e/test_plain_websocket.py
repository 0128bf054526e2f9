"""The browser's own `WebSocket` on `/ws` (`rtchat.v1`): no library, no build step.

The page is rtchat's, so the WebSocket comes from the server's own origin; a Socket.IO
client in the test shares `general` with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from playwright.async_api import Page

from tests.support import ChatClient, ok

NewPage = Callable[..., Awaitable[Page]]

pytestmark = pytest.mark.e2e

# Runs in the page: a small client of the protocol, kept on `window.rt`.
_CLIENT = """
async () => {
  const url = location.origin.replace(/^http/, "ws") + "/ws";
  const ws = new WebSocket(url, "rtchat.v1");
  const rt = { ws, pushes: [], waiting: new Map(), next: 1 };
  rt.call = (op, data) => new Promise((resolve) => {
    const id = rt.next++;
    rt.waiting.set(id, resolve);
    ws.send(JSON.stringify({ id, op, data }));
  });
  ws.onmessage = (e) => {
    const m = JSON.parse(e.data);
    if ("id" in m) { rt.waiting.get(m.id)(m); rt.waiting.delete(m.id); }
    else rt.pushes.push(m);
  };
  window.rt = rt;
  await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = reject; });
  return ws.protocol;
}
"""


async def _call(page: Page, op: str, data: Any) -> Any:
    return await page.evaluate("([op, data]) => window.rt.call(op, data)", [op, data])


async def test_a_browser_websocket_chats_with_a_socketio_client(
    server_url: str, new_page: NewPage
) -> None:
    page = await new_page(server_url)
    assert await page.evaluate(_CLIENT) == "rtchat.v1"
    hello = await _call(page, "hello", {"username": "alice"})
    assert hello["ok"] is True, hello
    assert hello["data"]["user"]["username"] == "alice"
    me = hello["data"]["connectionId"]

    bob = await ChatClient(server_url).connect()
    try:
        await bob.join("bob")
        ok(await _call(page, "create-room", {"name": "dev"}))
        ok(await bob.call("join-room", {"room": "dev"}))
        sent = await _call(page, "send-message", {"room": "dev", "text": "hi from chromium"})
        assert sent["ok"] is True, sent
        heard = await bob.wait_for("receive-message", lambda d: d["room"] == "dev")
        assert heard["message"] == "hi from chromium"
        assert heard["userId"] == me

        ok(await bob.call("send-message", {"room": "dev", "text": "hi from python"}))
        await page.wait_for_function(
            "() => window.rt.pushes.some(p => p.event === 'receive-message'"
            " && p.data.message === 'hi from python')"
        )
        pushes = await page.evaluate("() => window.rt.pushes")
        assert all(set(p) == {"event", "data"} for p in pushes)
        assert [p["data"]["message"] for p in pushes if p["event"] == "receive-message"] == [
            "hi from chromium",
            "hi from python",
        ]
    finally:
        await bob.close()
