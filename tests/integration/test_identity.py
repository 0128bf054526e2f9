"""Identity over real connections: names are held, tokens bring their user back.

A name is held while its owner is online and for `name_grace` seconds after; then the
next person to join with it gets it and the old token stops working. A join that asks
for the account (`guest: false`, as rtchat's page does) is refused a held name; one that
does not (the seed's) chats as a guest under it (tests/integration/test_guests.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from rtchat.settings import Settings
from tests.support import WAIT, ChatClient, Connect, error_code, ok, running_server


def account(name: str) -> dict[str, Any]:
    return {"username": name, "guest": False}


async def test_a_name_is_taken_while_its_holder_is_online(clients: Connect) -> None:
    holder, watcher, german = await clients(), await clients(), await clients()
    await holder.join("Alice")
    await watcher.join("watcher")
    await german.join("Straße")
    # Casefolded, not only lowered; NFKC (fullwidth Latin); Cyrillic drawn like Latin.
    for name in ("Alice", "alice", "  ALICE  ", "STRASSE", "ａｌｉｃｅ", "аӏісе"):  # noqa: RUF001
        intruder = await clients()
        answer = await intruder.call("user-joined", account(name))
        assert error_code(answer) == "username_taken", name
        assert ok(await intruder.call("session"))["user"] is None
        await intruder.close()
    # A lookalike that mixes scripts is no name at all.
    intruder = await clients()
    answer = await intruder.call("user-joined", account("Аlice"))  # noqa: RUF001
    assert error_code(answer) == "invalid_username"
    await intruder.close()
    # The holder is untouched.
    sent = ok(await holder.call("send-message", "still me"))
    assert sent["username"] == "Alice"
    await watcher.wait_for("receive-message", lambda d: d["message"] == "still me")
    names = [u["username"] for u in watcher.events("user-connected")]
    assert names == ["Alice", "watcher", "Straße"]


async def test_a_name_is_held_for_its_owner_after_they_leave(clients: Connect) -> None:
    holder, watcher = await clients(), await clients()
    await holder.join("alice")
    await watcher.join("watcher")
    await holder.close()
    await watcher.wait_for("user-disconnected", lambda d: d["username"] == "alice")
    intruder = await clients()
    assert error_code(await intruder.call("user-joined", account("alice"))) == "username_taken"


async def test_the_token_survives_a_reconnect(clients: Connect) -> None:
    first, bob = await clients(), await clients()
    joined = await first.join("alice")
    await bob.join("bob")
    ok(await first.call("create-room", {"name": "dev"}))
    dm = ok(await bob.call("open-dm", {"username": "alice"}))["room"]["name"]
    await first.close()
    await bob.wait_for("user-disconnected", lambda d: d["username"] == "alice")

    again = await clients(auth={"token": joined["token"]})
    session = ok(await again.call("session"))
    assert session["user"] == joined["user"]
    assert sorted(r["name"] for r in session["rooms"]) == sorted(["dev", "general", dm])
    # Announced with the connection that brought her back, as the seed names it.
    back = await bob.wait_for("user-connected", lambda d: d["userId"] == again.sio.get_sid())
    assert (back["username"], back["accountId"]) == ("alice", joined["user"]["accountId"])

    # The connection is alice's at once: no `user-joined` needed to post in her rooms.
    sent = ok(await again.call("send-message", {"room": dm, "text": "I'm back"}))
    assert (sent["accountId"], sent["guest"]) == (joined["user"]["accountId"], False)
    await bob.wait_for("receive-message", lambda d: d["message"] == "I'm back")
    # `user-joined` with her own name answers the same user and token.
    rejoined = await again.join("alice")
    assert (rejoined["user"], rejoined["token"]) == (joined["user"], joined["token"])


async def test_a_refused_name_says_whether_its_owner_is_online_or_for_how_long_it_waits(
    clients: Connect,
) -> None:
    owner, claimant = await clients(), await clients()
    await owner.join("alice")
    online = await claimant.call("user-joined", account("alice"))
    assert error_code(online) == "username_taken"
    assert "online" in online["error"]["message"]
    assert "retryAfter" not in online["error"]

    await owner.close()
    # Its owner's disconnect is handled a moment after the socket closes.
    async with asyncio.timeout(WAIT):
        while (
            "retryAfter"
            not in (answer := await claimant.call("user-joined", account("alice")))["error"]
        ):
            assert error_code(answer) == "username_taken"
            await asyncio.sleep(0.05)
    error = answer["error"]
    assert error["code"] == "username_taken"
    grace = Settings().name_grace
    assert 0 < error["retryAfter"] <= grace
    assert error["message"] == (
        f"The name 'alice' is reserved for its owner for {error['retryAfter']} more seconds."
    )


@pytest.fixture
async def short_grace(tmp_path: Path) -> AsyncIterator[Connect]:
    """A server that holds a name for only half a second after its owner leaves."""
    settings = Settings(database_url=f"sqlite:///{tmp_path}/rtchat.db", name_grace=0.5)
    async with running_server(settings) as (url, _), contextlib.AsyncExitStack() as stack:

        async def connect(**options: Any) -> ChatClient:
            client = await ChatClient(url, **options).connect()
            stack.push_async_callback(_close, client)
            return client

        yield connect


async def _close(client: ChatClient) -> None:
    if client.sio.connected:
        await client.close()


async def test_the_name_is_released_after_the_grace_and_the_old_token_revoked(
    short_grace: Connect,
) -> None:
    old = await short_grace()
    first = await old.join("alice")
    await old.close()

    # Retried until the grace has run out: refused as taken until then, never otherwise.
    newcomer = await short_grace()
    async with asyncio.timeout(WAIT):
        while not (answer := await newcomer.call("user-joined", account("alice")))["ok"]:
            assert error_code(answer) == "username_taken"
            await asyncio.sleep(0.1)
    second = answer["data"]
    assert second["user"]["username"] == "alice"
    assert second["user"]["accountId"] != first["user"]["accountId"]
    assert second["token"] != first["token"]

    stale = await short_grace(auth={"token": first["token"]})
    assert ok(await stale.call("session"))["user"] is None
    assert error_code(await stale.call("send-message", "who am I?")) == "not_joined"
    # The new alice is unaffected, and is the only alice online.
    online = ok(await stale.call("session"))["online"]
    assert online == [second["user"]]
    assert ok(await newcomer.call("session"))["user"] == second["user"]


async def test_a_failed_rename_keeps_the_current_name(clients: Connect) -> None:
    alice, bob = await clients(), await clients()
    joined = await alice.join("alice")
    await bob.join("bob")
    assert error_code(await alice.call("user-joined", account("BOB"))) == "username_taken"
    assert error_code(await alice.call("user-joined", "")) == "invalid_username"
    # Still alice, still online: she posts, and bob never saw her go.
    assert ok(await alice.call("session"))["user"] == joined["user"]
    ok(await alice.call("send-message", "still alice"))
    await bob.wait_for("receive-message", lambda d: d["message"] == "still alice")
    assert bob.events("user-disconnected") == []

    # A rename that succeeds is a new user: the old one leaves, the new one arrives, and
    # the old name is free at once.
    renamed = await alice.join("alicia")
    assert renamed["user"]["accountId"] != joined["user"]["accountId"]
    gone = await bob.wait_for("user-disconnected")
    assert gone["accountId"] == joined["user"]["accountId"]
    assert gone["userId"] == alice.sio.get_sid()
    await bob.wait_for("user-connected", lambda d: d["username"] == "alicia")
    assert [u["username"] for u in ok(await bob.call("session"))["online"]] == ["alicia", "bob"]
    newcomer = await clients()
    taken = ok(await newcomer.call("user-joined", account("alice")))
    assert taken["user"]["username"] == "alice"
    assert taken["token"]
