"""Two browsers on two different nodes of one cluster (PostgreSQL + Redis) chat, see each
other's typing and presence, as if they shared one server."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.cluster.nodes import running_cluster
from tests.e2e.conftest import NewPage
from tests.e2e.pages import join, message, pending, send
from tests.pg import server_port, through_port
from tests.proxy import CuttableProxy
from tests.redis_support import SHARED_URL

pytestmark = pytest.mark.e2e


async def test_two_pages_on_two_nodes_chat(
    tmp_path: Path, postgres_url: str, new_page: NewPage, artifacts_dir: Path
) -> None:
    async with running_cluster(
        2, tmp_path, database_url=postgres_url, redis_url=SHARED_URL
    ) as cluster:
        alice = await new_page(cluster[0].url)
        bob = await new_page(cluster[1].url)
        await join(alice, "alice")
        await join(bob, "bob")
        await expect(alice.locator("#online-count")).to_have_text("2")
        await expect(bob.locator("#online-count")).to_have_text("2")

        await alice.type("#message-input", "hel")
        await expect(bob.locator("#typing-indicator")).to_have_text("alice is typing…")
        await alice.fill("#message-input", "")
        await send(alice, "hello from node 1")
        await expect(message(bob, "hello from node 1", author="alice")).to_have_count(1)
        await expect(bob.locator("#typing-indicator")).to_have_text("")
        await send(bob, "and back from node 2")
        await expect(message(alice, "and back from node 2", author="bob")).to_have_count(1)
        await expect(message(alice, "hello from node 1", author="alice")).to_have_count(1)
        await alice.screenshot(path=str(artifacts_dir / "e2e-cluster-alice.png"))

        await bob.context.close()
        await expect(alice.locator("#online-count")).to_have_text("1")
        assert cluster.tracebacks() == []


async def test_a_message_sent_while_the_database_is_away_goes_when_it_is_back(
    tmp_path: Path, postgres_url: str, new_page: NewPage
) -> None:
    proxy = CuttableProxy(server_port())
    await proxy.start()
    try:
        async with running_cluster(
            1, tmp_path, database_url=through_port(postgres_url, proxy.port), redis_url=SHARED_URL
        ) as cluster:
            page = await new_page(cluster[0].url)
            await join(page, "alice")
            proxy.down = True
            proxy.cut()
            await send(page, "written while the database is away")
            await expect(pending(page)).to_contain_text("cannot store it yet")
            proxy.down = False
            await expect(message(page, "written while the database is away")).to_have_count(1)
            await expect(pending(page)).to_have_count(0)
            assert cluster.tracebacks() == []
    finally:
        await proxy.close()
