"""HAProxy with plain round-robin and no stickiness (docs/SCALING.md's own configuration)
in front of three nodes: long-polling clients chat as if there were one server, because a
node passes each request of another node's session to its owner."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.cluster.conftest import Connect
from tests.cluster.nodes import Cluster, running_cluster
from tests.haproxy import running_haproxy
from tests.redis_support import SHARED_URL, eventually
from tests.reliable_client import ReliableClient
from tests.support import ok, sentinel

NODE_CLIENT = Path(__file__).parents[1] / "interop" / "node_chat_client.mjs"
SETTINGS = {"RTCHAT_RATE_LIMIT": "0", "RTCHAT_MAX_CONNECTIONS_PER_IP": "0"}


@pytest.fixture
async def cluster(tmp_path: Path, postgres_url: str) -> AsyncIterator[Cluster]:
    async with running_cluster(
        3, tmp_path, database_url=postgres_url, redis_url=SHARED_URL, settings=SETTINGS
    ) as nodes:
        yield nodes
        assert nodes.tracebacks() == []


def forwarded(cluster: Cluster) -> int:
    return sum(int(str(node.health()["forwarded"])) for node in cluster.nodes)


async def test_polling_clients_chat_through_round_robin(cluster: Cluster, connect: Connect) -> None:
    async with running_haproxy(cluster.ports) as url:
        alice = await connect(url, transports=["polling"])
        bob = await connect(url, transports=["polling"])
        carol = await connect(url, transports=["polling"])
        for client, name in ((alice, "alice"), (bob, "bob"), (carol, "carol")):
            await client.join(name)
        sent = [ok(await alice.call("send-message", f"m{i}")) for i in range(15)]
        await sentinel(bob, alice, bob, carol)
        for member in (alice, bob, carol):
            got = [m["seq"] for m in member.events("receive-message") if m["message"][0] == "m"]
            assert got == [m["seq"] for m in sent]  # once each, in order
        # The requests did land on other nodes than their sessions' (and were passed on).
        assert forwarded(cluster) > 10


async def test_node_and_python_polling_clients_chat_through_round_robin(
    cluster: Cluster, connect: Connect
) -> None:
    async with running_haproxy(cluster.ports) as url:
        python = await connect(url, transports=["polling"])
        await python.join("python")
        node = await asyncio.create_subprocess_exec(
            "node",
            str(NODE_CLIENT),
            url,
            "polling",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        assert node.stdout is not None
        lines: list[dict[str, object]] = []
        async with asyncio.timeout(15):
            while not any(line["event"] == "joined" for line in lines):
                lines.append(json.loads(await node.stdout.readline()))
            ok(await python.call("send-message", "ping from python"))
            out, err = await node.communicate()
        assert node.returncode == 0, err.decode()
        lines += [json.loads(line) for line in out.decode().splitlines()]
        assert any(line["event"] == "ack" for line in lines), lines
        await python.wait_for("receive-message", lambda d: d["message"] == "pong from node")


async def test_the_upgrade_and_a_node_killed_mid_stream(cluster: Cluster, connect: Connect) -> None:
    """Clients that start on polling and upgrade (the default), while one node dies: they
    reconnect through the balancer, sync, and have every message once, in order."""
    async with running_haproxy(cluster.ports) as url:
        members = [ReliableClient(url, f"member{i}") for i in range(4)]
        sender = ReliableClient(url, "sender", transports=["polling"])
        for client in [*members, sender]:
            await client.start()
        total = 120
        for i in range(total):
            await sender.send(f"m{i}")
            if i == 40:
                await cluster[1].kill()
            await asyncio.sleep(0.01)
        await eventually(lambda: not sender.outbox, within=30)
        for client in [*members, sender]:
            await eventually(lambda c=client: c.synced_to("general") >= total, within=30)  # type: ignore[misc]
            assert client.problems == [], client.name
            assert [m["message"] for m in client.messages("general")] == [
                f"m{i}" for i in range(total)
            ], client.name
            for live in client.live_per_connection():
                assert live == sorted(set(live)), client.name
        upgraded = [c for c in members if c.sio.transport() == "websocket"]
        assert upgraded, "no client upgraded to WebSocket"
        for client in [*members, sender]:
            await client.stop()
