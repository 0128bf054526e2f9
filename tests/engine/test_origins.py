"""Which pages may use the engine: the same origin by default, others from an allow list;
a client that sends no Origin (not a browser page) always."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import orjson
import pytest
import websockets

from rtchat.engine import EngineOptions
from rtchat.engine.origins import OriginPolicy, same_origin
from tests.engine.support import echo_server, running_engine
from tests.engine.wire import eio_url, recv, ws_url

EVIL = "http://evil.example"
FRIEND = "https://friend.example:8443"


@pytest.mark.parametrize(
    ("origin", "host", "same"),
    [
        ("http://127.0.0.1:3000", "127.0.0.1:3000", True),
        ("http://Chat.Example", "chat.example:80", True),
        ("https://chat.example", "chat.example", True),
        ("https://chat.example:443", "chat.example", True),
        ("http://[::1]:3000", "[::1]:3000", True),
        ("http://chat.example", "chat.example:8080", False),
        ("http://evil.example", "chat.example", False),
        ("http://chat.example.evil.example", "chat.example", False),
        ("null", "chat.example", False),
        ("http://chat.example:99999", "chat.example", False),
        ("http://chat.example", None, False),
    ],
)
def test_same_origin(origin: str, host: str | None, same: bool) -> None:
    assert same_origin(origin, host) is same


def test_policy_allows_the_same_origin_the_list_and_no_origin() -> None:
    policy = OriginPolicy([FRIEND, "null"])
    assert policy.allows(None, "chat.example")
    assert policy.allows("http://chat.example", "chat.example")
    assert policy.allows(FRIEND, "chat.example")
    assert policy.allows("https://FRIEND.example:8443/", "chat.example")
    assert policy.allows("null", "chat.example")
    assert not policy.allows(EVIL, "chat.example")
    assert not policy.allows("https://friend.example", "chat.example")  # another port
    assert OriginPolicy(["*"]).allows(EVIL, "chat.example")
    assert policy.cors_headers(FRIEND, "chat.example")[0] == (
        f"Access-Control-Allow-Origin: {FRIEND}"
    )
    assert policy.cors_headers("http://chat.example", "chat.example") == []


@pytest.fixture(params=[(), (FRIEND,)], ids=["default", "allow list"])
async def base(request: pytest.FixtureRequest) -> AsyncIterator[str]:
    async with running_engine(echo_server(EngineOptions(cors_origins=request.param))) as url:
        yield url


async def test_websocket_from_another_origin_is_refused_with_403(base: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(ws_url(base), origin=EVIL)
    response = refused.value.response
    assert response.status_code == 403
    assert orjson.loads(response.body or b"") == {
        "code": 4,
        "message": "Forbidden: this origin may not connect",
    }


@pytest.mark.parametrize("origin", [None, "same"])
async def test_websocket_from_the_same_origin_or_none_connects(
    base: str, origin: str | None
) -> None:
    page = base if origin == "same" else None
    async with websockets.connect(ws_url(base), origin=page) as ws:
        assert str(await recv(ws)).startswith("0{")
        await ws.send("40")
        assert str(await recv(ws)).startswith("40{")


@pytest.mark.parametrize("method", ["GET", "POST", "OPTIONS"])
async def test_polling_from_another_origin_is_refused_with_403(base: str, method: str) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.get(eio_url(base)) as opened:  # no Origin: a session
            sid = orjson.loads((await opened.text())[1:])["sid"]
        for url in (eio_url(base), eio_url(base, sid=sid)):
            async with http.request(method, url, data="40", headers={"Origin": EVIL}) as answer:
                assert answer.status == 403
                assert "Access-Control-Allow-Origin" not in answer.headers


async def test_an_allowed_origin_gets_cors_headers() -> None:
    async with (
        running_engine(echo_server(EngineOptions(cors_origins=(FRIEND,)))) as url,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(eio_url(url), headers={"Origin": FRIEND}) as answer:
            assert answer.status == 200
            assert answer.headers["Access-Control-Allow-Origin"] == FRIEND
        async with websockets.connect(ws_url(url), origin=FRIEND) as ws:
            assert str(await recv(ws)).startswith("0{")
