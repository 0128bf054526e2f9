"""Where Redis is and how to reach it: the URL, redis-py's client for commands and scripts
(presence, name holds, rate limits), and the start-up check.

The fan-out's two connections do not go through redis-py (see `fanout/resp.py`), but
they read the same `RedisAddress`.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import redis.asyncio as aioredis
from redis.asyncio.connection import (
    BlockingConnectionPool,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

# Every command answers within this or counts as failed: a Redis that stopped answering
# must not hold a join or a disconnect for long.
COMMAND_TIMEOUT = 2.0
CONNECT_TIMEOUT = 2.0
POOL_SIZE = 32

RedisClient = aioredis.Redis


@dataclass(frozen=True, slots=True)
class RedisAddress:
    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a unix socket instead of host:port
    tls: bool = False
    username: str | None = None
    password: str | None = None
    db: int = 0

    @classmethod
    def parse(cls, url: str) -> RedisAddress:
        """`redis://[[user]:password@]host[:port][/db]`, `rediss://...` (TLS) or
        `unix:///path/to/socket`. Raises `ValueError` with a sentence naming the fault."""
        parts = urlsplit(url)
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"Unsupported Redis URL {url!r}: use redis://host:port/db.")
        try:
            port = parts.port or 6379
        except ValueError:
            raise ValueError(f"The Redis URL {url!r} has a bad port.") from None
        db_text = parts.path.strip("/") if parts.scheme != "unix" else ""
        if db_text and not db_text.isdigit():
            raise ValueError(f"The Redis URL {url!r} names database {db_text!r}, not a number.")
        return cls(
            host=parts.hostname or "127.0.0.1",
            port=port,
            path=parts.path if parts.scheme == "unix" else None,
            tls=parts.scheme == "rediss",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            db=int(db_text or 0),
        )

    def __str__(self) -> str:
        return self.path if self.path else f"{self.host}:{self.port}"

    def ssl_context(self) -> ssl.SSLContext | None:
        return ssl.create_default_context() if self.tls else None


def open_client(address: RedisAddress) -> RedisClient:
    """redis-py's asyncio client (hiredis parses its replies). No retries of its own: our
    callers decide what a failure means. Its pool makes a caller wait for one of
    `POOL_SIZE` connections (up to the command timeout) rather than fail, as redis-py's
    default pool does past 100: a join storm is 1,000 presence scripts at once."""
    common: dict[str, Any] = {
        "db": address.db,
        "username": address.username,
        "password": address.password,
        "socket_timeout": COMMAND_TIMEOUT,
        # One try: a Redis that is away answers in CONNECT_TIMEOUT, not in four of them.
        "retry": Retry(NoBackoff(), 0),
    }
    if address.path is not None:
        pool = BlockingConnectionPool(
            max_connections=POOL_SIZE,
            timeout=COMMAND_TIMEOUT,
            connection_class=UnixDomainSocketConnection,
            path=address.path,
            **common,
        )
    else:
        pool = BlockingConnectionPool(
            max_connections=POOL_SIZE,
            timeout=COMMAND_TIMEOUT,
            connection_class=SSLConnection if address.tls else Connection,
            host=address.host,
            port=address.port,
            socket_connect_timeout=CONNECT_TIMEOUT,
            **common,
        )
    return aioredis.Redis.from_pool(pool)  # closing the client closes the pool


async def check(client: RedisClient, address: RedisAddress) -> None:
    """Raise `ValueError` with one sentence if Redis does not answer a PING."""
    try:
        await client.ping()
    except (RedisError, OSError) as error:
        raise ValueError(f"Cannot reach Redis at {address}: {error}.") from None
