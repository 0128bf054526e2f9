"""Sign-in with the site's tokens in the service, with a manual clock: the account a `sub`
owns, `user-joined` refused, told before expiry, refreshed, closed at expiry. And the
settings and API keys that turn it and the HTTP API on."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import jwt
import pytest

from rtchat.auth.site_jwt import JwtSiteTokens
from rtchat.domain.api_keys import ApiKeys
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import TokenExpiring
from rtchat.domain.models import ConnectionId
from rtchat.service import Limits
from rtchat.service.identity import TOKEN_WARNING
from rtchat.settings import Settings, SettingsError
from rtchat.storage.memory import MemoryStorage
from tests.fakes import ManualClock, RecordingDelivery, single_node_chat
from tests.unit.conftest import Parts

SECRET = "k" * 32
A, B = ConnectionId("a"), ConnectionId("b")


@contextlib.asynccontextmanager
async def site_chat() -> AsyncIterator[Parts]:
    storage, out, clock = MemoryStorage(), RecordingDelivery(), ManualClock()
    tokens = JwtSiteTokens.from_secret(SECRET, clock)
    chat = single_node_chat(storage, out, clock, Limits(), site_tokens=tokens)
    await chat.start(storage)
    try:
        yield Parts(chat, out, clock, storage)
    finally:
        await chat.close()
        await storage.close()


def token(parts: Parts, seconds: float, **claims: Any) -> str:
    exp = int((parts.clock.wall + timedelta(seconds=seconds)).timestamp())
    return jwt.encode(
        {"sub": "u-1", "name": "alice", "exp": exp, **claims}, SECRET, algorithm="HS256"
    )


async def refused(call: Any) -> ErrorCode:
    with pytest.raises(ChatError) as caught:
        await call
    return caught.value.code


async def test_the_sub_owns_one_account_across_sign_ins() -> None:
    async with site_chat() as parts:
        chat = parts.chat
        first = await chat.identity.connect(A, token(parts, 600))
        second = await chat.identity.connect(B, token(parts, 600))
        assert first is not None
        assert first == second
        assert not first.guest
        assert await parts.storage.users.by_id(first.id) == first
        view = await chat.identity.session(A)
        assert view.token is None  # no session token: the site signs them in
        assert [s.room.name for s in view.rooms] == ["general"]
        # Names are the site's: no join under another name, the same name is a no-op.
        assert await refused(chat.identity.join(A, "mallory")) is ErrorCode.FORBIDDEN
        assert (await chat.identity.join(A, "ALICE")).user == first
        # Another sub with a name this chat's other account has.
        taken = token(parts, 600, sub="u-2")
        assert await refused(chat.identity.connect(ConnectionId("c"), taken)) is (
            ErrorCode.USERNAME_TAKEN
        )


async def test_a_connection_needs_a_valid_token() -> None:
    async with site_chat() as parts:
        identity = parts.chat.identity
        assert await refused(identity.connect(A)) is ErrorCode.INVALID_TOKEN
        assert await refused(identity.connect(B, token(parts, -1))) is ErrorCode.TOKEN_EXPIRED
        assert identity.connection_count() == 0  # refused connections are gone


async def test_told_before_expiry_then_closed_at_it() -> None:
    async with site_chat() as parts:
        chat, out, clock = parts.chat, parts.out, parts.clock
        await chat.identity.connect(A, token(parts, TOKEN_WARNING + 10))
        await chat.sweep()
        assert out.received(A, TokenExpiring) == []
        clock.advance(10)
        await chat.sweep()
        await chat.sweep()  # told once, not on every sweep
        expires = clock.wall + timedelta(seconds=TOKEN_WARNING)
        assert out.received(A, TokenExpiring) == [TokenExpiring(expires)]
        assert A not in out.closed
        clock.advance(TOKEN_WARNING)
        await chat.sweep()
        assert out.closed[A].code is ErrorCode.TOKEN_EXPIRED


async def test_a_refreshed_token_carries_the_connection_on() -> None:
    async with site_chat() as parts:
        chat, out, clock = parts.chat, parts.out, parts.clock
        await chat.identity.connect(A, token(parts, 30))
        await chat.sweep()
        assert len(out.received(A, TokenExpiring)) == 1
        new = token(parts, 600)
        assert chat.identity.refresh(A, new) == clock.wall + timedelta(seconds=600)
        clock.advance(30)
        await chat.sweep()
        assert A not in out.closed
        assert len(out.received(A, TokenExpiring)) == 1  # the new token is far from expiry
        # Another sub's token, a bad one or an expired one refreshes nothing.
        for bad, code in (
            (token(parts, 600, sub="u-2"), ErrorCode.INVALID_TOKEN),
            ("junk", ErrorCode.INVALID_TOKEN),
            (token(parts, -1), ErrorCode.TOKEN_EXPIRED),
        ):
            with pytest.raises(ChatError) as caught:
                chat.identity.refresh(A, bad)
            assert caught.value.code is code
        clock.advance(600 - 30)
        await chat.sweep()
        assert out.closed[A].code is ErrorCode.TOKEN_EXPIRED


async def test_without_site_tokens_refresh_is_refused(parts: Parts) -> None:
    await parts.chat.identity.connect(A)
    await parts.chat.identity.join(A, "alice")
    with pytest.raises(ChatError) as caught:
        parts.chat.identity.refresh(A, "x.y.z")
    assert caught.value.code is ErrorCode.INVALID_TOKEN


def test_api_keys_name_their_bot() -> None:
    keys = ApiKeys([("newsbot", "n" * 20), ("alerts", "a" * 20)])
    assert keys.bot("n" * 20) == "newsbot"
    assert keys.bot("a" * 20) == "alerts"
    assert keys.bot("n" * 19) is None
    assert keys.bot("") is None
    assert not ApiKeys([])


@pytest.mark.parametrize(
    ("environ", "needle"),
    [
        ({"RTCHAT_JWT_SECRET": "x" * 32, "RTCHAT_JWT_PUBLIC_KEY": "pem"}, "not both"),
        ({"RTCHAT_JWT_SECRET": "short"}, "at least 32"),
        ({"RTCHAT_API_KEYS": "bot"}, "name:key"),
        ({"RTCHAT_API_KEYS": "bot:short"}, "name:key"),
        ({"RTCHAT_API_KEYS": f"a:{'k' * 16},:{'k' * 16}"}, "item 2"),
        ({"RTCHAT_API_KEYS": f"{'b' * 40}:{'k' * 16}"}, "bot name"),
    ],
)
def test_bad_key_settings_stop_start_up(environ: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError, match=needle) as caught:
        Settings.from_sources(environ)
    assert "k" * 16 not in str(caught.value)  # a key never shows in the message


def test_api_key_settings_parse() -> None:
    settings = Settings.from_sources(
        {"RTCHAT_API_KEYS": f" newsbot:{'k' * 16} , alerts:{'a' * 16}"}
    )
    assert settings.api_key_pairs() == [("newsbot", "k" * 16), ("alerts", "a" * 16)]
    assert Settings().api_key_pairs() == []


async def test_a_new_name_from_the_site_renames_the_account() -> None:
    async with site_chat() as parts:
        chat = parts.chat
        first = await chat.identity.connect(A, token(parts, 600))
        assert first is not None
        renamed = await chat.identity.connect(B, token(parts, 600, name="Alicia"))
        assert renamed is not None
        assert renamed.id == first.id
        assert await parts.storage.users.by_name("alicia") == renamed
        assert await parts.storage.users.by_name("alice") is None
        # Another sub may not take a name this account has.
        taken = token(parts, 600, sub="u-2", name="ALICIA")
        assert await refused(chat.identity.connect(ConnectionId("c"), taken)) is (
            ErrorCode.USERNAME_TAKEN
        )
