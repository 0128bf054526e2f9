"""A fault of the server, not of the client, is answered `internal` to the one request it
broke, with the traceback in the log and nothing of it on the wire; everything else goes on.

No client request can cause one, so the fault is made where it would happen: the SQLite
file of a running server is damaged from outside, through a second connection to it.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rtchat.domain.errors import ERROR_CODES, ErrorCode
from rtchat.settings import Settings
from tests.support import ChatClient, error_code, ok, running_server, sentinel

INTERNAL_MESSAGE = ERROR_CODES[ErrorCode.INTERNAL]


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "chat.db"


@pytest.fixture
async def faulty_server(database: Path) -> AsyncIterator[str]:
    async with running_server(Settings(database_url=f"sqlite:///{database}")) as (url, _):
        yield url


@pytest.fixture
async def pair(faulty_server: str) -> AsyncIterator[tuple[ChatClient, ChatClient]]:
    alice = await ChatClient(faulty_server).connect()
    bob = await ChatClient(faulty_server).connect()
    await alice.join("alice")
    await bob.join("bob")
    yield alice, bob
    for client in (alice, bob):
        await client.close()


def _damage(database: Path, sql: str, *params: object) -> None:
    # closing(): sqlite3's own context manager commits but never closes.
    with contextlib.closing(sqlite3.connect(database, timeout=5)) as conn:
        conn.execute(sql, params)
        conn.commit()


def _handler_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        record
        for record in caplog.records
        if record.name == "rtchat.transport.operations" and record.levelno == logging.ERROR
    ]


async def test_a_row_the_server_cannot_read_is_answered_internal(
    pair: tuple[ChatClient, ChatClient], database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = pair
    ok(await alice.call("send-message", "readable"))
    damaged = ok(await alice.call("send-message", "about to be damaged"))
    # A timestamp that is text: the store reads the row, decoding it raises TypeError,
    # which is no ChatError, so the transport's last resort answers it.
    _damage(database, "UPDATE messages SET ts_us = 'not a number' WHERE id = ?", damaged["id"])

    request = ("history", {"room": "general", "before": 10})
    caplog.clear()
    answer = await bob.call(*request)
    assert error_code(answer) == "internal"
    assert answer["error"]["message"] == INTERNAL_MESSAGE  # nothing of the fault leaks out
    failures = _handler_failures(caplog)
    assert [r.getMessage() for r in failures] == ["handler for 'history' failed"]
    assert failures[0].exc_info is not None
    assert failures[0].exc_info[0] is TypeError
    # Without an acknowledgement callback, the same answer comes as an `error` event.
    await bob.sio.emit(*request)
    assert await bob.wait_for("error") == {"code": "internal", "message": INTERNAL_MESSAGE}

    # The server goes on: new messages are stored and delivered, pages that skip the
    # damaged row are read, and nobody else heard of the failure.
    marker = await sentinel(alice, alice, bob)
    page = ok(await bob.call("history", {"room": "general", "before": damaged["seq"]}))
    assert [m["message"] for m in page["messages"]] == ["readable"]
    synced = ok(await bob.call("sync", {"rooms": {"general": damaged["seq"]}}))
    expected = {"messages": [marker], "hasMore": False, "seq": marker["seq"]}
    assert synced == {"rooms": {"general": expected}}
    assert alice.events("error") == []
    assert bob.events("error") == [{"code": "internal", "message": INTERNAL_MESSAGE}]


async def test_a_database_failure_is_answered_internal(
    pair: tuple[ChatClient, ChatClient], database: Path, caplog: pytest.LogCaptureFixture
) -> None:
    alice, bob = pair
    ok(await alice.call("create-room", {"name": "doomed"}))
    ok(await alice.call("send-message", {"room": "doomed", "text": "going"}))
    # The driver's own error this time (no such table), which the store turns into
    # `internal` and logs; the transport passes it on.
    _damage(database, "DROP TABLE messages")

    caplog.clear()
    answer = await alice.call("send-message", {"room": "doomed", "text": "gone"})
    assert error_code(answer) == "internal"
    assert "messages" not in answer["error"]["message"]  # the table's name stays inside
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage().split(":")[0] for r in logged] == ["SQLite failed"]
    assert logged[0].exc_info is not None

    # What needs no message table still works, for both of them (without unread counts).
    rooms = ok(await bob.call("list-rooms"))["rooms"]
    assert [r["name"] for r in rooms] == ["doomed", "general"]
    assert all("unread" not in r for r in rooms)
    assert ok(await alice.call("session"))["user"]["username"] == "alice"
    assert bob.events("error") == []
