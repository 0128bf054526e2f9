"""Faults a cluster survives: a node killed with -9 mid-stream, Redis cut mid-stream, the
database cut. Made with real processes and TCP proxies; the machine's own PostgreSQL and
Redis keep running (Redis here is a private instance)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.balancer import balancing
from tests.cluster.conftest import Connect
from tests.cluster.nodes import running_cluster
from tests.pg import server_port, through_port
from tests.proxy import CuttableProxy
from tests.redis_support import SHARED_URL, PrivateRedis, eventually, private_redis
from tests.reliable_client import ReliableClient
from tests.support import error_code, ok, sentinel

NO_LIMIT = {"RTCHAT_RATE_LIMIT": "0"}


@pytest.fixture
def redis_server() -> Iterator[PrivateRedis]:
    with private_redis() as server:
        yield server


async def test_a_node_killed_mid_stream_loses_nothing(
    tmp_path: Path, postgres_url: str, connect: Connect
) -> None:
    total = 240
    async with (
        running_cluster(
            3, tmp_path, database_url=postgres_url, redis_url=SHARED_URL, settings=NO_LIMIT
        ) as cluster,
        balancing(cluster.ports) as balancer,
    ):
        # WebSocket only: one TCP connection per client, so the balancer keeps each on one
        # node (long-polling through a balancer without sticky sessions is issue #9's).
        members = [
            ReliableClient(balancer.url, f"member{i}", transports=["websocket"]) for i in range(5)
        ]
        sender = ReliableClient(balancer.url, "sender", transports=["websocket"])
        for client in [*members, sender]:
            await client.start()
        # One user only on node 1, with no way back, and someone watching from node 2.
        victim = await connect(cluster[0].url)
        await victim.join("victim")
        watcher = await connect(cluster[1].url)
        await watcher.join("watcher")

        for i in range(total):
            await sender.send(f"m{i}")
            if i == total // 3:
                await cluster[0].kill()
                killed = time.monotonic()
            await asyncio.sleep(0.004)
        await eventually(lambda: not sender.outbox, within=30)

        # The victim's node died with it: the others see it go within the presence TTL.
        await watcher.wait_for("user-disconnected", lambda d: d["username"] == "victim", within=15)
        assert time.monotonic() - killed < 3 + 1 + 5  # TTL + a sweep + slack for the machine

        for client in [*members, sender]:
            await eventually(lambda c=client: c.last_seq("general") >= total, within=30)  # type: ignore[misc]
            seqs = [m["seq"] for m in client.messages("general")]
            texts = [m["message"] for m in client.messages("general")]
            assert seqs == list(range(1, total + 1)), client.name
            assert texts == [f"m{i}" for i in range(total)], client.name
            assert client.problems == [], client.name
            # Each connection gets each message at most once, in order. Across a reconnect
            # a client may be handed again what it had (a sync overlaps what arrives live
            # meanwhile); it keeps one per seq, as rtchat's browser client does.
            for live in client.live_per_connection():
                assert live == sorted(set(live)), client.name
        for client in [*members, sender]:
            await client.stop()
        assert "Traceback" not in cluster[1].log() + cluster[2].log()


async def test_redis_cut_mid_stream_fails_no_send_and_heals(
    tmp_path: Path, postgres_url: str, redis_server: PrivateRedis, connect: Connect
) -> None:
    proxy = CuttableProxy(redis_server.port)
    await proxy.start()
    total = 150
    try:
        async with running_cluster(
            2,
            tmp_path,
            database_url=postgres_url,
            redis_url=f"redis://127.0.0.1:{proxy.port}/0",
            settings=NO_LIMIT,
        ) as cluster:
            alice = await connect(cluster[0].url)
            await alice.join("alice")
            bob = await connect(cluster[1].url)
            await bob.join("bob")
            carol = await connect(cluster[1].url)
            await carol.join("carol")
            for i in range(total):
                if i == 50:
                    proxy.down = True
                    proxy.cut()
                    await eventually(lambda: cluster[1].health()["redis"] == "down")
                if i == 100:
                    proxy.down = False
                ok(await alice.call("send-message", f"m{i}"))
                await asyncio.sleep(0.01)
            await eventually(lambda: cluster[1].health()["redis"] == "ok", within=15)
            for member in (bob, carol):
                await member.wait_for(
                    "receive-message", lambda d: d["message"] == f"m{total - 1}", within=15
                )
                got = [m["message"] for m in member.events("receive-message")]
                assert got == [f"m{i}" for i in range(total)]  # once each, in order, live
            assert cluster.tracebacks() == []
    finally:
        await proxy.close()


async def test_database_cut_answers_unavailable_and_heals(
    tmp_path: Path, postgres_url: str, connect: Connect
) -> None:
    proxy = CuttableProxy(server_port())
    await proxy.start()
    try:
        async with running_cluster(
            2,
            tmp_path,
            database_url=through_port(postgres_url, proxy.port),
            redis_url=SHARED_URL,
            settings=NO_LIMIT,
        ) as cluster:
            alice = await connect(cluster[0].url)
            await alice.join("alice")
            bob = await connect(cluster[1].url)
            await bob.join("bob")
            first = [ok(await alice.call("send-message", f"m{i}")) for i in range(10)]

            proxy.down = True
            proxy.cut()
            for i in range(3):
                started = time.monotonic()
                answer = await alice.call(
                    "send-message", {"room": "general", "text": f"r{i}", "clientId": f"r{i}"}
                )
                assert error_code(answer) == "unavailable"
                assert time.monotonic() - started < 8
            assert cluster[0].health()["storage"] == "unavailable"

            proxy.down = False
            retried = []
            for i in range(3):  # the same client ids: stored once now
                answer = await alice.call(
                    "send-message", {"room": "general", "text": f"r{i}", "clientId": f"r{i}"}
                )
                retried.append(ok(answer))
            await eventually(lambda: cluster[0].health()["storage"] == "ok")
            assert [m["seq"] for m in retried] == [11, 12, 13]
            page = ok(await bob.call("history", {"room": "general", "before": 14}))["messages"]
            assert [m["seq"] for m in page] == list(range(1, 14))
            await sentinel(alice, bob)
            live = [m["seq"] for m in bob.events("receive-message")]
            assert live == [*[m["seq"] for m in first], 11, 12, 13, 14]
            assert cluster.tracebacks() == []
    finally:
        await proxy.close()
