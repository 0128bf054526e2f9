"""A client of the HTTP API for tests: its keys, one call, and the check of a refusal."""

from __future__ import annotations

from typing import Any

import aiohttp

KEY = "newsbot-key-0123456789"
OTHER_KEY = "alerts-key-0123456789"
SECRET = "api-jwt-secret-" + "z" * 24
API = "/api/v1"


async def call(
    url: str,
    method: str,
    path: str,
    *,
    key: str | None = KEY,
    json: Any = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    sent = dict(headers or {})
    if key is not None:
        sent["Authorization"] = f"Bearer {key}"
    async with (
        aiohttp.ClientSession() as http,
        http.request(method, url + API + path, json=json, headers=sent) as response,
    ):
        assert response.content_type == "application/json"
        return response.status, await response.json()


def failed(answer: tuple[int, Any], status: int, code: str) -> None:
    assert answer[0] == status, answer
    assert answer[1]["ok"] is False
    assert answer[1]["error"]["code"] == code
    assert answer[1]["error"]["message"]
