"""Sign-in with the site's tokens over real Socket.IO connections (python-socketio).

Each test runs its own server with `RTCHAT_JWT_SECRET` set; tokens are signed here with
PyJWT. Expiry is real time: tokens a few seconds long, waits bounded by `WAIT`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import socketio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from rtchat.settings import Settings
from tests.support import WAIT, ChatClient, error_code, ok, running_server

SECRET = "integration-secret-" + "x" * 20


def site_token(seconds: float, sub: str = "site-1", name: str = "alice", **extra: Any) -> str:
    claims = {"sub": sub, "name": name, "exp": int(time.time() + seconds), **extra}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@pytest.fixture
async def site_server(tmp_path: Path) -> AsyncIterator[str]:
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", jwt_secret=SECRET)
    async with running_server(settings) as (url, _):
        yield url


async def refused_with(url: str, auth: dict[str, Any] | None) -> Any:
    client = socketio.AsyncClient(reconnection=False)
    refusal: list[Any] = []

    @client.event
    async def connect_error(data: Any) -> None:
        refusal.append(data)

    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(url, auth=auth, wait_timeout=WAIT)
    await client.disconnect()
    assert refusal, "no CONNECT_ERROR"
    return refusal[0]["data"]["code"]


async def test_a_valid_token_names_the_user(site_server: str) -> None:
    alice = await ChatClient(site_server, auth={"token": site_token(300)}).connect()
    watcher = await ChatClient(
        site_server, auth={"token": site_token(300, "site-2", "bob")}
    ).connect()
    try:
        session = ok(await alice.call("session"))
        assert session["user"]["username"] == "alice"
        assert session["user"]["guest"] is False
        assert "token" not in session
        sent = ok(await alice.call("send-message", {"room": "general", "text": "signed in"}))
        got = await watcher.wait_for("receive-message", lambda d: d["message"] == "signed in")
        assert got == sent
        assert got["accountId"] == session["user"]["accountId"]
        # Names are the site's.
        assert error_code(await alice.call("user-joined", "mallory")) == "forbidden"
    finally:
        await alice.close()
        await watcher.close()
    # The same sub comes back as the same account, with its rooms.
    again = await ChatClient(site_server, auth={"token": site_token(300)}).connect()
    try:
        assert ok(await again.call("session"))["user"] == session["user"]
    finally:
        await again.close()


async def test_bad_tokens_are_refused_with_their_code(site_server: str) -> None:
    assert await refused_with(site_server, None) == "invalid_token"
    assert await refused_with(site_server, {"token": site_token(-5)}) == "token_expired"
    wrong = jwt.encode(
        {"sub": "s", "name": "eve", "exp": int(time.time() + 300)}, "y" * 40, algorithm="HS256"
    )
    assert await refused_with(site_server, {"token": wrong}) == "invalid_token"
    no_exp = jwt.encode({"sub": "s", "name": "eve"}, SECRET, algorithm="HS256")
    assert await refused_with(site_server, {"token": no_exp}) == "invalid_token"


@pytest.mark.serial
async def test_refreshing_before_expiry_keeps_the_connection(site_server: str) -> None:
    client = await ChatClient(site_server, auth={"token": site_token(3)}).connect()
    try:
        told = await client.wait_for("token-expiring")
        assert told["expiresAt"]
        answer = ok(await client.call("refresh-token", {"token": site_token(300)}))
        assert answer["expiresAt"] > told["expiresAt"]
        # Another sub's token is no refresh of this connection.
        other = await client.call("refresh-token", {"token": site_token(300, sub="site-9")})
        assert error_code(other) == "invalid_token"
        # What is shown is an absence (no close at the first token's expiry), so time must
        # pass: past that expiry and a sweep after it. A round trip then proves the
        # connection is up, since a close would have come before its answer.
        await asyncio.sleep(3 + 1.5)
        assert ok(await client.call("session"))["user"]["username"] == "alice"
        assert client.sio.connected
        assert client.events("error") == []
    finally:
        await client.close()


@pytest.mark.serial
async def test_no_refresh_is_told_then_closed_at_expiry(site_server: str) -> None:
    client = ChatClient(site_server, auth={"token": site_token(2)})
    closed = asyncio.Event()
    client.sio.on("disconnect", closed.set)
    await client.connect()
    started = time.monotonic()
    await client.wait_for("token-expiring")
    refusal = await client.wait_for("error")
    assert refusal["code"] == "token_expired"
    async with asyncio.timeout(WAIT):
        await closed.wait()
    assert not client.sio.connected
    assert time.monotonic() - started < 2 + 2  # at expiry, within a sweep or so


@pytest.mark.parametrize("kind", ["RS256", "ES256"])
async def test_public_key_tokens_and_the_attacks_on_them(tmp_path: Path, kind: str) -> None:
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(65537, 2048)
        if kind == "RS256"
        else ec.generate_private_key(ec.SECP256R1())
    )
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    key_file = tmp_path / "site.pem"
    key_file.write_text(pem)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path}/rtchat.db", jwt_public_key=str(key_file)
    )
    claims = {"sub": "site-1", "name": "alice", "exp": int(time.time() + 300)}
    async with running_server(settings) as (url, _):
        client = ChatClient(url, auth={"token": jwt.encode(claims, private, algorithm=kind)})
        await client.connect()
        try:
            assert ok(await client.call("session"))["user"]["username"] == "alice"
        finally:
            await client.close()
        # Key confusion: HS256 "signed" with the public key as its secret (by hand: PyJWT
        # refuses to make one), and `alg: none`.
        head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"})) + "." + _b64(json.dumps(claims))
        mac = hmac.new(pem.encode(), head.encode(), hashlib.sha256).digest()
        confused = head + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
        assert await refused_with(url, {"token": confused}) == "invalid_token"
        none = _b64(json.dumps({"alg": "none"})) + "." + _b64(json.dumps(claims)) + "."
        assert await refused_with(url, {"token": none}) == "invalid_token"
        assert await refused_with(url, {"token": site_token(300)}) == "invalid_token"  # HS256


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
