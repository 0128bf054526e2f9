"""Two `rtchat serve` nodes sharing PostgreSQL and Redis: an address's joins are counted
on both together, a name held on one node makes a guest on the other, and a rename on
one frees the name on the other."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.cluster.conftest import Connect
from tests.cluster.nodes import running_cluster
from tests.redis_support import SHARED_URL
from tests.support import error_code, ok, sentinel


async def test_an_address_joins_the_cluster_within_one_limit(
    tmp_path: Path, postgres_url: str, connect: Connect
) -> None:
    settings = {"RTCHAT_JOINS_PER_MINUTE": "4"}
    async with running_cluster(
        2, tmp_path, database_url=postgres_url, redis_url=SHARED_URL, settings=settings
    ) as cluster:
        clients = [await connect(cluster[i % 2].url) for i in range(8)]
        answers = []
        for i, client in enumerate(clients):
            answers.append(await client.call("user-joined", f"user{i}"))
            await asyncio.sleep(0.1)  # each node settles with Redis between joins
        codes = ["ok" if a["ok"] else error_code(a) for a in answers]
        # A burst of 4 for 127.0.0.1 on both nodes together, give or take the one join a
        # node lets through on its own before it has heard from Redis.
        assert 4 <= codes.count("ok") <= 5, codes
        assert set(codes) == {"ok", "rate_limited"}
        assert cluster.tracebacks() == []


async def test_a_name_held_on_one_node_is_a_guest_on_the_other_and_a_rename_frees_it(
    tmp_path: Path, postgres_url: str, connect: Connect
) -> None:
    async with running_cluster(
        2, tmp_path, database_url=postgres_url, redis_url=SHARED_URL
    ) as cluster:
        owner = await connect(cluster[0].url)
        other = await connect(cluster[1].url)
        watcher = await connect(cluster[1].url)
        account = await owner.join("alice")
        await watcher.join("watcher")
        held = await other.call("user-joined", {"username": "ALICE", "guest": False})
        assert error_code(held) == "username_taken"
        guest = await other.join("alice")
        assert guest["user"]["guest"] is True
        await other.sio.emit("send-message", "a guest on n2")
        got = await watcher.wait_for("receive-message", lambda d: d["message"] == "a guest on n2")
        assert (got["guest"], got["userId"]) == (True, other.sio.get_sid())
        # Presence on both nodes lists the account and the guest, each as what it is.
        online = ok(await watcher.call("list-online", {"room": "general"}))["users"]
        assert sorted((u["username"], u["guest"]) for u in online) == [
            ("alice", False),
            ("alice", True),
            ("watcher", False),
        ]
        # The owner renames on n1: the name is free on n2 at once, for an account.
        await owner.join("alicia")
        await sentinel(owner, watcher)
        newcomer = await connect(cluster[1].url)
        taken = ok(await newcomer.call("user-joined", {"username": "alice", "guest": False}))
        assert taken["user"]["accountId"] != account["user"]["accountId"]
        assert cluster.tracebacks() == []
