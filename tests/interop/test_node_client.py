"""Node's official socket.io-client and python-socketio's client chat through rtchat."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.support import ChatClient

SCRIPT = Path(__file__).with_name("node_chat_client.mjs")
pytestmark = pytest.mark.interop


@pytest.mark.parametrize("transport", ["websocket", "polling"])
async def test_node_and_python_clients_chat(server: str, transport: str) -> None:
    python = await ChatClient(server).connect()
    try:
        await python.join("python")
        node = await asyncio.create_subprocess_exec(
            "node",
            str(SCRIPT),
            server,
            transport,
            stdout=asyncio.subprocess.PIPE,
            cwd=Path(__file__).parents[2],
        )
        await python.wait_for("user-connected", lambda d: d["username"] == "node", within=10)
        await python.sio.emit("send-message", "ping from python")
        reply = await python.wait_for(
            "receive-message", lambda d: d["message"] == "pong from node", within=10
        )
        assert reply["username"] == "node"
        stdout, _ = await asyncio.wait_for(node.communicate(), 15)
        assert node.returncode == 0
        seen = [json.loads(line) for line in stdout.decode().splitlines()]
        joined = next(e["data"] for e in seen if e["event"] == "joined")
        assert joined["ok"] is True
        assert joined["data"]["user"]["username"] == "node"
        assert joined["data"]["token"]
        ping = next(e["data"] for e in seen if e["event"] == "receive-message")
        assert ping["username"] == "python"
        assert ping["message"] == "ping from python"
        ack = next(e["data"] for e in seen if e["event"] == "ack")
        assert ack["ok"] is True
        assert ack["data"]["id"] == reply["id"]
    finally:
        await python.close()
