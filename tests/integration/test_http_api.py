"""The HTTP API for backends against a real server, with aiohttp and python-socketio clients.

Every route; refused without a key, with a wrong one, and off when no key is set; an
idempotent retry; a bot's message reaches Socket.IO clients as a Socket.IO message does;
site JWTs as bearer tokens; the OpenAPI document lists exactly the routes there are.
"""

from __future__ import annotations

import time
from pathlib import Path

import aiohttp
import jwt
from starlette.routing import Mount, Route

from rtchat.app import Application
from rtchat.domain.rules import MAX_CLIENT_ID_LENGTH, MAX_SEARCH_QUERY
from rtchat.service import MAX_SEARCH_PAGE, SEARCH_PAGE
from rtchat.settings import Settings
from tests.api_client import API, KEY, OTHER_KEY, SECRET, call, failed
from tests.support import ChatClient, ok, running_server, sentinel


async def test_the_api_is_off_without_keys(server: str) -> None:
    for method, path in [
        ("GET", "/online"),
        ("POST", "/rooms"),
        ("GET", "/rooms/general/messages"),
        ("POST", "/rooms/general/messages"),
        ("GET", "/openapi.json"),
    ]:
        failed(await call(server, method, path, json={"text": "x"}), 404, "not_found")


async def test_refused_without_a_key_or_with_a_wrong_one(api: tuple[str, Application]) -> None:
    url, _ = api
    for method, path in [
        ("GET", "/online"),
        ("POST", "/rooms"),
        ("GET", "/rooms/general/messages"),
        ("POST", "/rooms/general/messages"),
    ]:
        for key in (None, "", "wrong-key-0123456789", KEY + "x", KEY[:-1]):
            failed(await call(url, method, path, key=key, json={"text": "x"}), 401, "unauthorized")
    async with aiohttp.ClientSession() as http:
        # Another scheme than Bearer is no key either.
        headers = {"Authorization": f"Basic {KEY}"}
        async with http.get(url + API + "/online", headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == "Bearer"
    # Nothing was posted.
    assert ok((await call(url, "GET", "/rooms/general/messages"))[1])["messages"] == []


async def test_a_room_name_with_a_newline_is_answered_by_the_api(
    api: tuple[str, Application],
) -> None:
    # Found by schemathesis: an encoded newline in the path once missed the API's mount.
    url, _ = api
    failed(await call(url, "GET", "/rooms/a%0Ab/messages"), 400, "invalid_room_name")
    failed(
        await call(url, "POST", "/rooms/a%0Ab/messages", json={"text": "x"}),
        400,
        "invalid_room_name",
    )


async def test_a_bot_posts_as_a_socketio_client_does(api: tuple[str, Application]) -> None:
    url, _ = api
    alice = await ChatClient(url).connect()
    watcher = await ChatClient(url).connect()
    try:
        await alice.join("alice")
        await watcher.join("watcher")
        by_socket = ok(await alice.call("send-message", {"room": "general", "text": "from io"}))
        status, answer = await call(url, "POST", "/rooms/general/messages", json={"text": " hi "})
        assert status == 201
        posted = ok(answer)
        got = await watcher.wait_for("receive-message", lambda d: d["message"] == "hi")
        assert got == posted
        assert got.keys() == by_socket.keys()
        assert got["seq"] == by_socket["seq"] + 1
        assert (got["username"], got["guest"], got["userId"]) == ("newsbot", False, None)
        await alice.wait_for("receive-message", lambda d: d["message"] == "hi")
    finally:
        await alice.close()
        await watcher.close()


async def test_an_idempotent_retry_stores_and_sends_nothing_new(
    api: tuple[str, Application],
) -> None:
    url, _ = api
    watcher = await ChatClient(url).connect()
    try:
        await watcher.join("watcher")
        key = {"Idempotency-Key": "deploy-4711"}
        path = "/rooms/general/messages"
        first = await call(url, "POST", path, json={"text": "deployed"}, headers=key)
        again = await call(url, "POST", path, json={"text": "deployed"}, headers=key)
        assert (first[0], again[0]) == (201, 200)
        assert ok(again[1]) == ok(first[1])
        assert ok(first[1])["clientId"] == "deploy-4711"
        # The same key from another bot is another message.
        other = await call(url, "POST", path, key=OTHER_KEY, json={"text": "x"}, headers=key)
        assert other[0] == 201
        await sentinel(await _joined(url, "sender"), watcher)
        assert [m["message"] for m in watcher.events("receive-message")].count("deployed") == 1
        history = ok((await call(url, "GET", path))[1])["messages"]
        assert [m["message"] for m in history].count("deployed") == 1
        too_long = {"Idempotency-Key": "k" * 65}
        failed(
            await call(url, "POST", path, json={"text": "x"}, headers=too_long),
            400,
            "invalid_payload",
        )
    finally:
        await watcher.close()


async def _joined(url: str, name: str) -> ChatClient:
    client = await ChatClient(url).connect()
    await client.join(name)
    return client


async def test_history_pages_like_the_socketio_event(api: tuple[str, Application]) -> None:
    url, _ = api
    path = "/rooms/general/messages"
    for n in range(5):
        assert (await call(url, "POST", path, json={"text": f"m{n}"}))[0] == 201
    latest = ok((await call(url, "GET", path + "?limit=2"))[1])
    assert [m["message"] for m in latest["messages"]] == ["m3", "m4"]
    assert latest["hasMore"] is True
    older = ok((await call(url, "GET", f"{path}?before={latest['messages'][0]['seq']}"))[1])
    assert [m["message"] for m in older["messages"]] == ["m0", "m1", "m2"]
    assert older["hasMore"] is False
    client = await _joined(url, "reader")
    try:
        by_socket = ok(await client.call("history", {"room": "general", "before": 4, "limit": 2}))
        by_http = ok((await call(url, "GET", path + "?before=4&limit=2"))[1])
        assert by_http == by_socket
    finally:
        await client.close()
    for query in ("?limit=0", "?limit=abc", "?before=-1", "?limit=999", "?before=" + "9" * 30):
        failed(await call(url, "GET", path + query), 400, "invalid_payload")
    failed(await call(url, "GET", "/rooms/nowhere/messages"), 404, "room_not_found")
    failed(await call(url, "GET", "/rooms/Not%20A%20Room/messages"), 400, "invalid_room_name")


async def test_rooms_are_created_and_bots_post_in_them(api: tuple[str, Application]) -> None:
    url, _ = api
    watcher = await _joined(url, "watcher")
    try:
        status, answer = await call(url, "POST", "/rooms", json={"name": "news", "topic": "t"})
        assert status == 201
        room = ok(answer)["room"]
        assert room == {
            "name": "news",
            "kind": "room",
            "topic": "t",
            "memberCount": 0,
            "lastSeq": 0,
        }
        created = await watcher.wait_for("room-created")
        assert created["room"]["name"] == "news"
        failed(await call(url, "POST", "/rooms", json={"name": "news"}), 409, "room_exists")
        failed(await call(url, "POST", "/rooms", json={"name": "No!"}), 400, "invalid_room_name")
        failed(await call(url, "POST", "/rooms", json=["news"]), 400, "invalid_payload")
        # A member hears the bot there.
        ok(await watcher.call("join-room", {"room": "news"}))
        posted = await call(url, "POST", "/rooms/news/messages", json={"text": "headline"})
        assert ok(posted[1])["seq"] == 1
        got = await watcher.wait_for("receive-message", lambda d: d["room"] == "news")
        assert got == ok(posted[1])
        failed(
            await call(url, "POST", "/rooms/news/messages", json={"text": ""}),
            400,
            "invalid_message",
        )
        failed(
            await call(url, "POST", "/rooms/none/messages", json={"text": "x"}),
            404,
            "room_not_found",
        )
    finally:
        await watcher.close()


async def test_bots_stay_out_of_direct_messages(api: tuple[str, Application]) -> None:
    url, _ = api
    alice, bob = await _joined(url, "alice"), await _joined(url, "bob")
    try:
        dm = ok(await alice.call("open-dm", {"username": "bob"}))["room"]["name"]
        path = f"/rooms/{dm}/messages"
        failed(await call(url, "POST", path, json={"text": "psst"}), 403, "forbidden")
        failed(await call(url, "GET", path), 403, "forbidden")
    finally:
        await alice.close()
        await bob.close()


async def test_who_is_online_everywhere(api: tuple[str, Application]) -> None:
    url, _ = api
    assert ok((await call(url, "GET", "/online"))[1]) == {"users": [], "count": 0}
    alice, bob = await _joined(url, "alice"), await _joined(url, "bob")
    try:
        online = ok((await call(url, "GET", "/online"))[1])
        assert [u["username"] for u in online["users"]] == ["alice", "bob"]
        assert online["count"] == 2
    finally:
        await alice.close()
        await bob.close()


async def test_rate_limited_like_a_user(tmp_path: Path) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/rtchat.db",
        api_keys=f"newsbot:{KEY}",
        rate_limit=1,
        rate_burst=2,
    )
    async with running_server(settings) as (url, _):
        path = "/rooms/general/messages"
        statuses = [(await call(url, "POST", path, json={"text": "x"}))[0] for _ in range(3)]
        assert statuses == [201, 201, 429]


async def test_a_site_jwt_acts_as_its_user(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", jwt_secret=SECRET)

    def token(seconds: float, sub: str = "site-7", name: str = "carol") -> str:
        claims = {"sub": sub, "name": name, "exp": int(time.time() + seconds)}
        return jwt.encode(claims, SECRET, algorithm="HS256")

    async with running_server(settings) as (url, _):
        # With a JWT key but no API key, the API is on for the site's users only.
        failed(await call(url, "GET", "/online", key=KEY), 401, "unauthorized")
        failed(await call(url, "GET", "/online", key=token(-5)), 401, "token_expired")
        forged = jwt.encode({"sub": "x", "name": "x", "exp": 2**40}, "q" * 40, algorithm="HS256")
        failed(await call(url, "GET", "/online", key=forged), 401, "invalid_token")
        carol = token(300)
        created = await call(url, "POST", "/rooms", key=carol, json={"name": "carols"})
        assert ok(created[1])["room"]["memberCount"] == 1
        assert ok(created[1])["room"]["role"] == "owner"  # a site's user owns what it makes
        posted = await call(url, "POST", "/rooms/carols/messages", key=carol, json={"text": "hi"})
        message = ok(posted[1])
        assert message["username"] == "carol"
        # The same account as over Socket.IO.
        client = await ChatClient(url, auth={"token": carol}).connect()
        try:
            session = ok(await client.call("session"))
            assert session["user"]["accountId"] == message["accountId"]
            assert "carols" in [r["name"] for r in session["rooms"]]
        finally:
            await client.close()
        # Another user is no member of carol's room.
        dave = token(300, "site-8", "dave")
        failed(await call(url, "GET", "/rooms/carols/messages", key=dave), 403, "forbidden")
        assert (await call(url, "GET", "/rooms/general/messages", key=dave))[0] == 200
        # carol, owner of her room, mutes dave there: his posts through the API are refused.
        ok((await call(url, "POST", "/rooms/general/messages", key=dave, json={"text": "hi"}))[1])
        client = await ChatClient(url, auth={"token": dave}).connect()
        try:
            ok(await client.call("join-room", {"room": "carols"}))
        finally:
            await client.close()
        owner = await ChatClient(url, auth={"token": carol}).connect()
        try:
            mute = {"room": "carols", "username": "dave", "seconds": 60}
            until = ok(await owner.call("mute", mute))["until"]
        finally:
            await owner.close()
        refused = await call(url, "POST", "/rooms/carols/messages", key=dave, json={"text": "x"})
        failed(refused, 403, "muted")
        assert refused[1]["error"]["until"] == until


async def test_unknown_routes_and_methods_answer_json(api: tuple[str, Application]) -> None:
    url, _ = api
    failed(await call(url, "GET", "/nothing"), 404, "not_found")
    async with aiohttp.ClientSession() as http, http.delete(url + API + "/rooms") as response:
        assert response.status == 405
        assert response.headers["Allow"] == "POST"
        assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_the_openapi_document_lists_exactly_the_routes(
    api: tuple[str, Application],
) -> None:
    url, application = api
    status, document = await call(url, "GET", "/openapi.json", key=None)
    assert status == 200
    assert document["servers"] == [{"url": API}]
    documented = {
        (path, method.upper())
        for path, item in document["paths"].items()
        for method in item
        if method != "parameters"
    }
    served = set()
    for route in _api_routes(application):
        assert route.methods is not None
        served |= {(route.path, m) for m in route.methods if m != "HEAD"}  # HEAD: GET's
    assert documented == served
    assert len(served) == 10  # the ten of docs/api.md, so an empty match cannot pass
    written = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    for path, method in served:
        assert f"| `{method} {API}{path}` |" in written
    # The limits docs/api.md states by hand are the code's.
    assert f"`q` 1-{MAX_SEARCH_QUERY} characters" in written
    assert f"`limit` 1-{MAX_SEARCH_PAGE}, default {SEARCH_PAGE}" in written
    assert f"1-{MAX_CLIENT_ID_LENGTH} characters" in written


def _api_routes(application: Application) -> list[Route]:
    """The routes of the Starlette app mounted at `API`, as the server has them."""
    http = application.asgi._app  # type: ignore[attr-defined]  # under SocketIOClientFiles
    for mounted in http.routes:
        if isinstance(mounted, Mount) and mounted.path == API:
            return [r for r in mounted.app.routes if isinstance(r, Route)]
    raise AssertionError(f"nothing is mounted at {API}")
