"""The HTTP edge of `rtchat serve`'s app: security headers on every route, GET and HEAD only
on static paths, and the origin check README promises (RTCHAT_CORS_ORIGINS)."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
import socketio
import websockets

from rtchat.settings import Settings
from tests.support import running_server

EVIL = "http://evil.example"
OTHER = "http://other.example:8080"

ROUTES = [
    "/",
    "/index.html",
    "/app.js",
    "/style.css",
    "/healthz",
    "/readyz",
    "/metrics",
    "/no-such-file",
    "/socket.io/socket.io.js",
    "/socket.io/?EIO=4&transport=polling",
    "/socket.io/?EIO=3&transport=polling",
]


@pytest.mark.parametrize("path", ROUTES)
async def test_every_route_sends_the_security_headers(server: str, path: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(server + path) as response:
        headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    policy = headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[-1].split(";", 1)[0]


async def test_pages_allow_scripts_from_the_server_only(server: str) -> None:
    async with aiohttp.ClientSession() as http, http.get(server + "/") as response:
        policy = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["object-src"] == "'none'"


@pytest.mark.parametrize("path", ["/", "/app.js", "/socket.io/socket.io.js"])
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "TRACE", "OPTIONS"])
async def test_static_paths_answer_only_get_and_head(server: str, path: str, method: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.request(method, server + path) as response:
            assert response.status == 405
            assert response.headers["Allow"] == "GET, HEAD"
        async with http.head(server + path) as response:
            assert response.status == 200


async def _refused(url: str, origin: str) -> int:
    target = url.replace("http", "ws", 1) + "/socket.io/?EIO=4&transport=websocket"
    try:
        async with websockets.connect(target, origin=origin):
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


async def _joins(url: str, origin: str | None) -> bool:
    """Whether a Socket.IO client sending `origin` can connect and join."""
    headers = {"Origin": origin} if origin else {}
    async with aiohttp.ClientSession() as http:  # ours, so a refused client leaves nothing open
        client = socketio.AsyncClient(reconnection=False, http_session=http)
        try:
            await client.connect(url, headers=headers, transports=["websocket"], wait_timeout=5)
        except socketio.exceptions.ConnectionError:
            return False
        try:
            answer = await client.call("user-joined", f"from-{len(origin or '')}", timeout=5)
            return bool(answer["ok"])
        finally:
            await client.disconnect()


async def test_by_default_only_the_same_origin_connects(server: str) -> None:
    assert await _refused(server, EVIL) == 403
    assert await _refused(server, OTHER) == 403
    assert await _refused(server, server) == 101
    assert not await _joins(server, EVIL)
    assert await _joins(server, server)
    assert await _joins(server, None)  # not a browser page: no Origin


async def test_an_allow_list_lets_its_origins_in_and_no_other(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/chat.db", cors_origins=OTHER)
    async with running_server(settings) as (url, _):
        assert await _refused(url, EVIL) == 403
        assert await _refused(url, OTHER) == 101
        assert not await _joins(url, EVIL)
        assert await _joins(url, OTHER)
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                url + "/socket.io/?EIO=4&transport=polling", headers={"Origin": EVIL}
            ) as response,
        ):
            assert response.status == 403
