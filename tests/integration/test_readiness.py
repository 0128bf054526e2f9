"""`/readyz`: 503 while the database or Redis cannot be reached or the node drains, 200
otherwise; `/healthz` answers 200 all along (the process is alive)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp

from rtchat.settings import Settings
from tests.pg import server_port, through_port
from tests.proxy import CuttableProxy
from tests.redis_support import new_prefix, private_redis
from tests.support import running_server

WITHIN = 20.0  # seconds: Redis's link retries back off up to a few seconds


async def _get(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as answer:
        return answer.status, await answer.json()


async def _until_ready(http: aiohttp.ClientSession, url: str, status: int) -> Any:
    """Ask `/readyz` until it answers `status` (every answer must come); its body."""
    async with asyncio.timeout(WITHIN):
        while True:
            got, body = await _get(http, url + "/readyz")
            if got == status:
                return body
            await asyncio.sleep(0.1)


async def test_ready_follows_the_database_and_redis(tmp_path: Path, postgres_url: str) -> None:
    proxy = CuttableProxy(server_port())
    await proxy.start()
    try:
        with private_redis() as redis:
            settings = Settings(
                database_url=through_port(postgres_url, proxy.port),
                redis_url=redis.url,
                redis_prefix=new_prefix(),
                presence_ttl=3.0,  # presence tries Redis every second
                node_id="ready-node",
            )
            async with running_server(settings) as (url, _), aiohttp.ClientSession() as http:
                body = await _until_ready(http, url, 200)
                assert body == {
                    "ready": True,
                    "node": "ready-node",
                    "storage": "ok",
                    "redis": "ok",
                    "draining": False,
                }

                proxy.down = True  # the database is gone: no connection gets through
                proxy.cut()
                body = await _until_ready(http, url, 503)
                assert body["storage"] == "down"
                assert (await _get(http, url + "/healthz"))[0] == 200
                proxy.down = False
                assert (await _until_ready(http, url, 200))["storage"] == "ok"

                redis.stop()
                body = await _until_ready(http, url, 503)
                assert body["redis"] == "down"
                assert body["storage"] == "ok"
                assert (await _get(http, url + "/healthz"))[0] == 200
                redis.start()  # the same port: the node links up again by itself
                assert (await _until_ready(http, url, 200))["redis"] == "ok"
    finally:
        await proxy.close()


async def test_not_ready_while_draining(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db")
    async with running_server(settings) as (url, application), aiohttp.ClientSession() as http:
        status, body = await _get(http, url + "/readyz")
        assert (status, body["redis"], body["draining"]) == (200, "off", False)
        # What SIGTERM starts (the listener stays open here, so the probe gets through).
        await application.sio.drain(1.0)
        status, body = await _get(http, url + "/readyz")
        assert (status, body["storage"], body["draining"]) == (503, "ok", True)
        assert (await _get(http, url + "/healthz"))[0] == 200
