"""Two browsers on two different nodes of one cluster (PostgreSQL + Redis) chat, see each
other's typing and presence, as if they shared one server."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.cluster.nodes import Cluster, running_cluster
from tests.e2e.conftest import NewPage
from tests.e2e.pages import create_room, join, message, open_room, pending, room_link, send
from tests.haproxy import running_haproxy
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
    async with _one_node_and_a_cuttable_database(tmp_path, postgres_url) as (cluster, proxy):
        page = await new_page(cluster[0].url)
        await join(page, "alice")
        proxy.down = True
        proxy.cut()
        await send(page, "written while the database is away")
        await expect(pending(page)).to_contain_text("cannot store it yet")
        proxy.down = False
        # Retried every few seconds: the first retry after the database is back goes.
        delivered = message(page, "written while the database is away")
        await expect(delivered).to_have_count(1, timeout=20_000)
        await expect(pending(page)).to_have_count(0)
        assert cluster.tracebacks() == []


async def test_a_room_opened_while_the_database_is_away_opens_when_it_is_back(
    tmp_path: Path, postgres_url: str, new_page: NewPage
) -> None:
    async with _one_node_and_a_cuttable_database(tmp_path, postgres_url) as (cluster, proxy):
        page = await new_page(cluster[0].url)
        await join(page, "alice")
        await create_room(page, "side")
        await send(page, "said before the outage")
        await expect(message(page, "said before the outage")).to_have_count(1)
        await open_room(page, "general")
        proxy.down = True
        proxy.cut()
        # join-room answers `unavailable`: the room stays open (it used to be dropped,
        # with "Could not open # side"), and is asked for again until it answers.
        await open_room(page, "side")
        await expect(message(page, "said before the outage")).to_have_count(1)
        await page.wait_for_timeout(500)  # the answer is in: nothing dropped it
        await expect(page.locator("#room-title")).to_have_text("# side")
        await expect(page.locator("#send-error")).to_have_text("")
        proxy.down = False
        await send(page, "said after it")
        await expect(message(page, "said after it")).to_have_count(1, timeout=20_000)
        await expect(room_link(page, "side")).to_have_count(1)
        await expect(pending(page)).to_have_count(0)
        assert cluster.tracebacks() == []


@contextlib.asynccontextmanager
async def _one_node_and_a_cuttable_database(
    tmp_path: Path, postgres_url: str
) -> AsyncIterator[tuple[Cluster, CuttableProxy]]:
    """One node whose PostgreSQL is reached through a proxy the test can cut."""
    proxy = CuttableProxy(server_port())
    await proxy.start()
    try:
        async with running_cluster(
            1, tmp_path, database_url=through_port(postgres_url, proxy.port), redis_url=SHARED_URL
        ) as cluster:
            yield cluster, proxy
    finally:
        await proxy.close()


# Before the page's scripts run: every io() the page makes uses long-polling only.
POLLING_ONLY = """
(() => {
  let wrapped;
  Object.defineProperty(window, 'io', {
    configurable: true,
    get: () => wrapped,
    set: (io) => {
      wrapped = Object.assign((...args) => {
        const at = typeof args[0] === 'string' ? 1 : 0;
        args[at] = { ...(args[at] || {}), transports: ['polling'] };
        return io(...args);
      }, io);
    },
  });
})();
"""


@pytest.mark.parametrize("polling_only", [True, False], ids=["polling-only", "upgrade"])
async def test_browsers_through_round_robin_without_stickiness(
    tmp_path: Path, postgres_url: str, new_page: NewPage, polling_only: bool
) -> None:
    async with (
        running_cluster(
            3,
            tmp_path,
            database_url=postgres_url,
            redis_url=SHARED_URL,
            settings={"RTCHAT_MAX_CONNECTIONS_PER_IP": "0"},
        ) as cluster,
        running_haproxy(cluster.ports) as url,
    ):
        pages = []
        for name in ("alice", "bob"):
            page = await new_page("about:blank")
            if polling_only:
                await page.add_init_script(POLLING_ONLY)
            await page.goto(url)
            await join(page, name)
            pages.append(page)
        alice, bob = pages
        await expect(alice.locator("#online-count")).to_have_text("2")
        for i in range(3):
            await send(alice, f"from alice {i}")
            await send(bob, f"from bob {i}")
        for page in pages:
            for i in range(3):
                await expect(message(page, f"from alice {i}", author="alice")).to_have_count(1)
                await expect(message(page, f"from bob {i}", author="bob")).to_have_count(1)
        await bob.fill("#message-input", "typing here")
        await expect(alice.locator("#typing-indicator")).to_have_text("bob is typing…")
        forwarded = sum(int(str(node.health()["forwarded"])) for node in cluster.nodes)
        assert forwarded > 0  # the balancer did spread the sessions' requests
        assert cluster.tracebacks() == []
