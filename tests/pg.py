"""Fresh PostgreSQL databases for tests, on the machine's server, dropped afterwards.

Each test (or each cluster of `rtchat serve` processes) gets a database of its own, named
by a random suffix, so tests never see each other's rows and nothing is left behind.
The URL carries everything a process needs, so it can be handed to subprocesses as
`RTCHAT_DATABASE_URL`. A server that cannot be reached fails the test with a sentence
saying so: tests that need PostgreSQL never skip.

    async with fresh_database() as url:
        storage = await PostgresStorage.open(url)

or, in a test, the `postgres_url` fixture of tests/conftest.py. `fresh_schema` is the
light version for suites of many small tests: a schema of its own in the server's
database, named in the URL (`?search_path=...`, which asyncpg sends as a setting), so
it is as private as a database but costs a millisecond instead of a copy of template0.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg  # type: ignore[import-untyped]

SERVER_URL = os.environ.get("RTCHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
"""A database on the test server that we may connect to, to create and drop the others."""

_PREFIX = "rtchat_test_"


def database_url(name: str) -> str:
    """`SERVER_URL` with its database replaced by `name`."""
    parts = urlsplit(SERVER_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


def server_port() -> int:
    """The port of the test server, for a proxy to point at."""
    return urlsplit(SERVER_URL).port or 5432


def through_port(url: str, port: int) -> str:
    """`url` with its server replaced by 127.0.0.1:`port` (a proxy in front of it)."""
    parts = urlsplit(url)
    user = f"{parts.username}@" if parts.username else ""
    return urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{port}"))


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(SERVER_URL, timeout=10)
    except (OSError, asyncpg.PostgresError) as error:
        raise RuntimeError(
            f"These tests need PostgreSQL at {SERVER_URL} (set RTCHAT_TEST_POSTGRES_URL "
            f"to use another): {error}"
        ) from error


@contextlib.asynccontextmanager
async def fresh_database() -> AsyncIterator[str]:
    """Create an empty database, yield its URL, and drop it (closing what is still open)."""
    name = f"{_PREFIX}{uuid.uuid4().hex[:16]}"
    admin = await _admin()
    try:
        # template0: nobody is ever connected to it, so the copy cannot be refused for that.
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
    finally:
        await admin.close()
    try:
        yield database_url(name)
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def fresh_schema() -> AsyncIterator[str]:
    """Create an empty schema, yield a URL whose connections use it, and drop it."""
    name = f"{_PREFIX}{uuid.uuid4().hex[:16]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE SCHEMA "{name}"')
    finally:
        await admin.close()
    try:
        yield f"{SERVER_URL}{'&' if '?' in SERVER_URL else '?'}search_path={name}"
    finally:
        admin = await _admin()
        try:
            await admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await admin.close()
