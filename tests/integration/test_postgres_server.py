"""rtchat serving from PostgreSQL: start-up, restarts, and several processes on one database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator

from rtchat.settings import Settings
from tests.pg import server_port, through_port
from tests.proxy import CuttableProxy
from tests.support import ChatClient, error_code, listening_url, ok, running_server


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once the probe closes


def test_a_server_that_cannot_be_reached_stops_start_up_with_one_line() -> None:
    port = _closed_port()
    result = subprocess.run(
        [sys.executable, "-m", "rtchat", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "RTCHAT_DATABASE_URL": f"postgresql://postgres@127.0.0.1:{port}/chat"},
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"rtchat: Cannot reach PostgreSQL at 127.0.0.1:{port}: connection refused."
    ]


async def test_history_survives_a_restart(postgres_url: str) -> None:
    settings = Settings(database_url=postgres_url, rate_limit=0)
    async with running_server(settings) as (url, _):
        alice = await ChatClient(url).connect()
        await alice.join("alice")
        sent = [ok(await alice.call("send-message", f"before {i}")) for i in range(3)]
        await alice.close()
    async with running_server(settings) as (url, _):
        bob = await ChatClient(url).connect()
        try:
            await bob.join("bob")
            joined = ok(await bob.call("join-room", {"room": "general"}))
            assert joined["messages"] == sent
            more = ok(await bob.call("send-message", "after"))
            assert more["seq"] == sent[-1]["seq"] + 1
        finally:
            await bob.close()


async def test_a_lost_database_answers_unavailable_and_the_server_heals(postgres_url: str) -> None:
    proxy = CuttableProxy(server_port())
    await proxy.start()
    settings = Settings(database_url=through_port(postgres_url, proxy.port), rate_limit=0)
    try:
        async with running_server(settings) as (url, _):
            alice = await ChatClient(url).connect()
            try:
                await alice.join("alice")
                first = ok(await alice.call("send-message", {"room": "general", "text": "one"}))
                proxy.down = True
                proxy.cut()
                resent = {"room": "general", "text": "two", "clientId": "c-two"}
                assert error_code(await alice.call("send-message", resent)) == "unavailable"
                proxy.down = False
                # The server heals by itself: the resend is stored, once, right after.
                second = ok(await alice.call("send-message", resent))
                again = ok(await alice.call("send-message", resent))
                assert second["seq"] == first["seq"] + 1
                assert again == second
            finally:
                await alice.close()
    finally:
        await proxy.close()


@contextlib.contextmanager
def _serving(database_url: str, count: int) -> Iterator[list[str]]:
    """`count` `rtchat serve` processes on `database_url`, all started before any is waited for."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "rtchat", "serve", "--host", "127.0.0.1", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "RTCHAT_DATABASE_URL": database_url, "RTCHAT_RATE_LIMIT": "0"},
        )
        for _ in range(count)
    ]
    try:
        yield [listening_url(process, within=20) for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait(timeout=10)
            assert process.stdout is not None
            process.stdout.close()


async def test_two_processes_on_one_database_share_rooms_and_numbering(postgres_url: str) -> None:
    # Started together: they migrate the empty database once between them.
    with _serving(postgres_url, 2) as (first, second):
        alice = await ChatClient(first).connect()
        bob = await ChatClient(second).connect()
        try:
            await alice.join("alice")
            await bob.join("bob")
            ok(await alice.call("create-room", {"name": "shared"}))
            ok(await bob.call("join-room", {"room": "shared"}))
            posted = []
            for i in range(20):
                author = (alice, bob)[i % 2]
                posted.append(
                    ok(await author.call("send-message", {"room": "shared", "text": f"{i}"}))
                )
            assert [m["seq"] for m in posted] == list(range(1, 21))
            # Either node has the whole room, whichever node each message went through.
            for client in (alice, bob):
                page = ok(await client.call("history", {"room": "shared", "before": 21}))
                assert page["messages"] == posted
        finally:
            await alice.close()
            await bob.close()
