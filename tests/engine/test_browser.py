"""The official browser client (npm's socket.io-client) in headless Chromium against the
engine: over WebSocket only, over long-polling only, and upgrading from one to the other."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright
from starlette.applications import Starlette
from starlette.responses import FileResponse, HTMLResponse
from starlette.routing import Route

from rtchat.engine import SocketServer
from tests.engine.support import echo_server, running_engine

pytestmark = pytest.mark.e2e

CLIENT = Path(__file__).resolve().parents[2] / "node_modules/socket.io-client/dist/socket.io.js"
PAGE = '<!doctype html><meta charset="utf-8"><script src="/client.js"></script>'

# Runs in the page: connect, acks (text and binary), events, a burst in order, rooms.
SCENARIO = """
async (transports) => {
  const socket = io({ transports, reconnection: false });
  const events = [];
  socket.onAny((event, ...args) => events.push([event, ...args]));
  await new Promise((resolve, reject) => {
    socket.on('connect', resolve);
    socket.on('connect_error', reject);
  });
  const echoed = await socket.timeout(5000).emitWithAck('echo', { a: 1 });
  const bytes = await socket.timeout(5000).emitWithAck('echo', new Uint8Array([1, 2, 3]));
  for (let i = 0; i < 200; i++) socket.emit('back', i);
  const deadline = Date.now() + 5000;
  while (events.filter((e) => e[0] === 'back').length < 200 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const transport = socket.io.engine.transport.name;
  socket.disconnect();
  return {
    echoed,
    bytes: Array.from(new Uint8Array(bytes)),
    hello: events[0],
    back: events.filter((e) => e[0] === 'back').map((e) => e[1]),
    transport,
  };
}
"""


async def _app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    await _routes(scope, receive, send)


async def _page(_: Any) -> HTMLResponse:
    return HTMLResponse(PAGE)


async def _client(_: Any) -> FileResponse:
    return FileResponse(CLIENT, media_type="application/javascript")


_routes = Starlette(routes=[Route("/", _page), Route("/client.js", _client)])


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path="/usr/bin/chromium", args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@pytest.mark.skipif(not CLIENT.is_file(), reason="socket.io-client is not installed: npm ci")
@pytest.mark.parametrize(
    ("transports", "final"),
    [
        (["websocket"], "websocket"),
        (["polling"], "polling"),
        (["polling", "websocket"], "websocket"),
    ],
)
async def test_browser_client(browser: Browser, transports: list[str], final: str) -> None:
    sio: SocketServer = echo_server()
    async with running_engine(sio, app=_app) as url:
        page = await browser.new_page()
        await page.goto(url + "/")
        result = await page.evaluate(SCENARIO, transports)
    assert result["echoed"] == {"a": 1}
    assert result["bytes"] == [1, 2, 3]
    assert result["hello"][0] == "hello"
    assert result["back"] == list(range(200))
    assert result["transport"] == final
