"""HTTP beside Socket.IO: health, the client files, npm's Socket.IO client, --static-dir."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from rtchat.settings import Settings
from tests.support import running_server


async def _get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as response:
        return response.status, response.headers.get("content-type", ""), await response.text()


async def test_health_reports_counts(server: str) -> None:
    status, kind, body = await _get(server + "/healthz")
    assert status == 200
    assert kind.startswith("application/json")
    assert '"status":"ok"' in body.replace(" ", "")


async def test_serves_our_client_and_the_socketio_client(server: str) -> None:
    status, kind, body = await _get(server + "/")
    assert status == 200
    assert "text/html" in kind
    assert "/socket.io/socket.io.js" in body
    status, kind, body = await _get(server + "/socket.io/socket.io.js")
    assert status == 200
    assert "javascript" in kind
    assert "Socket.IO v4" in body[:200]


async def test_static_dir_replaces_our_client(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<p>seed page</p>")
    async with running_server(Settings(static_dir=tmp_path)) as (url, _):
        status, _kind, body = await _get(url + "/")
        assert status == 200
        assert body == "<p>seed page</p>"
        status, _kind, _body = await _get(url + "/socket.io/socket.io.js")
        assert status == 200


async def test_missing_files_are_404(server: str) -> None:
    status, _kind, _body = await _get(server + "/no-such-file.js")
    assert status == 404
