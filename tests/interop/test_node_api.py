"""A bot's message, posted through the HTTP API, reaches Node's official socket.io-client
as `receive-message` with the fields and `seq` a Socket.IO-sent message has."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from rtchat.settings import Settings
from tests.support import ChatClient, ok, running_server

SCRIPT = Path(__file__).with_name("node_bot_listener.mjs")
KEY = "interop-bot-key-0123456789"
pytestmark = pytest.mark.interop


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_a_bots_message_reaches_node(tmp_path: Path, transport: str) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", api_keys=f"bot:{KEY}")
    async with running_server(settings) as (url, _):
        node = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            url,
            transport,
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )
        assert node.stdout is not None
        try:
            async with asyncio.timeout(10):
                assert (await node.stdout.readline()).strip() == b"ready"
            python = await ChatClient(url).connect()
            await python.join("python")
            by_socket = ok(await python.call("send-message", {"room": "general", "text": "io"}))
            headers = {"Authorization": f"Bearer {KEY}"}
            async with aiohttp.ClientSession(headers=headers) as http:
                answers = []
                for text in ("from the bot", "done"):
                    path = url + "/api/v1/rooms/general/messages"
                    async with http.post(path, json={"text": text}) as response:
                        assert response.status == 201
                        answers.append((await response.json())["data"])
            await python.close()
            stdout, _ = await asyncio.wait_for(node.communicate(), 15)
        finally:
            if node.returncode is None:
                node.kill()
        assert node.returncode == 0
        seen = [json.loads(line) for line in stdout.decode().splitlines()]
        assert [m["message"] for m in seen] == ["io", "from the bot", "done"]
        assert seen[1] == answers[0]
        assert seen[1].keys() == by_socket.keys()
        assert seen[1]["seq"] == by_socket["seq"] + 1
        assert seen[1]["username"] == "bot"
