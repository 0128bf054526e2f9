"""A polling request for another node's session, passed on by the node it reached
(forward.py): two engines in this process, one the owner, and raw peers that misbehave."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import aiohttp
import orjson
import pytest

from rtchat.engine import EngineOptions, Server
from rtchat.engine.forward import Address, Forwarder, relay, request_bytes
from rtchat.engine.http_parse import RequestParser
from tests.engine.support import echo_server, hello_app
from tests.engine.wire import WAIT, eio_url, open_polling, poll, post, request

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


class StaticPeers:
    """The other nodes from a fixed table (the app's are in Redis)."""

    def __init__(self, tag: str, addresses: dict[str, Address]) -> None:
        self.tag = tag
        self.addresses = addresses

    def cached(self, tag: str) -> Address | None:
        return self.addresses.get(tag)

    async def resolve(self, tag: str) -> Address | None:
        return self.addresses.get(tag)


def test_a_request_goes_on_as_it_came_less_the_links_own_headers() -> None:
    parser = RequestParser(max_head=8192, max_headers=100, max_body=1024)
    (request,) = parser.feed(
        b"POST /socket.io/?EIO=4&sid=b.1 HTTP/1.1\r\nHost: chat\r\nConnection: keep-alive\r\n"
        b"Keep-Alive: timeout=5\r\nExpect: 100-continue\r\n"
        b"Origin: http://chat\r\nContent-Length: 2\r\n\r\n40"
    )
    assert request_bytes(request) == (
        b"POST /socket.io/?EIO=4&sid=b.1 HTTP/1.1\r\nhost: chat\r\norigin: http://chat\r\n"
        b"content-length: 2\r\n\r\n40"
    )


def test_an_answer_goes_back_as_it_came_less_the_links_own_headers() -> None:
    plain = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    assert relay(plain, keep_alive=True) is plain
    assert relay(plain, keep_alive=False) == (
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    )
    closing = b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno"
    assert relay(closing, keep_alive=True) == (
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\nno"
    )


@contextlib.asynccontextmanager
async def serving(server: Server) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    await server.start(sock)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await server.stop(grace=1)


async def connected(http: aiohttp.ClientSession, base: str, sid: str) -> int:
    """Connect the session's default namespace through `base`, and take what the echo
    server sends on connect; how many requests that took."""
    assert await post(http, base, sid, "40") == (200, "ok")
    got, requests = "", 1
    while "hello" not in got:
        status, text = await poll(http, base, sid)
        assert status == 200, text
        got, requests = got + text, requests + 1
    assert got.startswith("40")
    return requests


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[str, str, Forwarder]]:
    """Node b (the owner, with its internal listener) and node a in front, which passes
    b's sessions on: (a's URL, b's URL, a's forwarder)."""
    owner = Server(echo_server(EngineOptions(sid_tag="b")), hello_app)
    async with serving(owner) as b:
        internal = await owner.start_internal("127.0.0.1")
        forwarder = Forwarder(StaticPeers("a", {"b": internal}))
        front = Server(echo_server(EngineOptions(sid_tag="a")), hello_app, forwarder=forwarder)
        async with serving(front) as a:
            yield a, b, forwarder


async def test_a_session_is_served_through_the_node_in_front(
    http: aiohttp.ClientSession, nodes: tuple[str, str, Forwarder]
) -> None:
    a, b, forwarder = nodes
    sid, _ = await open_polling(http, b)
    assert sid.startswith("b.")
    requests = await connected(http, a, sid)  # the namespace's connect, answered by b
    for i in range(5):
        assert await post(http, a, sid, f'42["echo-{i}"]') == (200, "ok")
        assert await poll(http, a, sid) == (200, f'42["echo-{i}"]')
    held = asyncio.ensure_future(poll(http, a, sid))  # held on b until b has something
    await asyncio.sleep(0.1)
    assert not held.done()
    assert await post(http, b, sid, '42["late"]') == (200, "ok")
    assert await held == (200, '42["late"]')
    assert await post(http, a, sid, '42["echo"]') == (200, "ok")
    async with http.get(eio_url(a, sid=sid)) as answer:
        assert answer.headers["X-Content-Type-Options"] == "nosniff"  # b's answer, as it was
        assert await answer.text() == '42["echo"]'
    assert forwarder.forwarded == requests + 13
    assert forwarder.links == 1  # one request at a time: the same link every time


async def test_a_held_get_ends_on_the_owner_when_the_client_goes(
    http: aiohttp.ClientSession, nodes: tuple[str, str, Forwarder]
) -> None:
    a, b, _ = nodes
    sid, _ = await open_polling(http, b)
    await connected(http, b, sid)
    host, port = a.removeprefix("http://").split(":")
    _, writer = await asyncio.open_connection(host, int(port))
    path = eio_url("", sid=sid)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    await asyncio.sleep(0.2)  # held on both hops
    writer.transport.abort()
    await asyncio.sleep(0.2)
    # Had b kept the GET, a second one would be two at once: the session closed.
    assert await post(http, b, sid, '42["still here"]') == (200, "ok")
    assert await poll(http, b, sid) == (200, '42["still here"]')


Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def front_of(handle: Peer) -> AsyncIterator[tuple[str, Forwarder]]:
    """Node a, passing the sessions of node z on to a raw server run by `handle`."""
    peer = await asyncio.start_server(handle, "127.0.0.1", 0)
    address = peer.sockets[0].getsockname()[:2]
    forwarder = Forwarder(StaticPeers("a", {"z": address}))
    front = Server(echo_server(EngineOptions(sid_tag="a")), hello_app, forwarder=forwarder)
    try:
        async with serving(front) as a:
            yield a, forwarder
    finally:
        peer.close()
        async with asyncio.timeout(WAIT):
            await peer.wait_closed()


async def test_a_stale_pooled_link_is_tried_once_more_on_a_fresh_one(
    http: aiohttp.ClientSession,
) -> None:
    connections: list[int] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        first = len(connections) == 1
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(OK)
            await reader.readuntil(b"\r\n\r\n")
            if first:  # closed as the next request came: it was idle too long
                writer.transport.abort()
                return
            writer.write(OK)
            await reader.read()
        writer.close()

    async with front_of(peer) as (a, forwarder):
        assert await request(http, "GET", eio_url(a, sid="z.1")) == (200, "ok")
        assert await request(http, "GET", eio_url(a, sid="z.1")) == (200, "ok")
    assert len(connections) == 2
    assert forwarder.forwarded == 2


async def test_a_broken_hop_is_answered_as_an_unknown_sid(http: aiohttp.ClientSession) -> None:
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(OK[:20])  # half an answer, and gone
        writer.transport.abort()

    async with front_of(peer) as (a, _):
        async with asyncio.timeout(WAIT):
            status, text = await request(http, "GET", eio_url(a, sid="z.1"))
    assert status == 400
    assert orjson.loads(text)["code"] == 1
