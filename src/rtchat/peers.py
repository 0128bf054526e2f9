"""Where each node takes the requests other nodes pass it (engine/forward.py's `Peers`),
kept in Redis: `<prefix>:peer:<tag>` holds `host:port` with a time to live, refreshed by
the node while it runs. A node's tag is new at every start, so a restarted node never
answers for the sessions of its previous life; they are unknown, and their clients
reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from redis.exceptions import RedisError

from rtchat.redislink import RedisClient

log = logging.getLogger(__name__)

CACHE_FOR = 5.0  # seconds a resolved address is used without asking Redis again
MISS_FOR = 1.0  # seconds an unknown tag stays unknown without asking again


class RedisPeers:
    def __init__(self, client: RedisClient, prefix: str, ttl: float) -> None:
        self._redis = client
        self._p = f"{prefix}:peer:"
        self._ttl = ttl
        self.tag = secrets.token_hex(4)
        self._address = ""
        self._cache: dict[str, tuple[tuple[str, int] | None, float]] = {}
        self._refresher: asyncio.Task[None] | None = None

    async def claim(self) -> str:
        """Take a tag no live node has (before any session id is made with it)."""
        for _ in range(8):
            if await self._redis.set(self._key(self.tag), "", px=self._ttl_ms(), nx=True):
                return self.tag
            self.tag = secrets.token_hex(4)
        raise ValueError("Redis holds every node tag tried; is another chat using this prefix?")

    async def publish(self, host: str, port: int) -> None:
        """Say where this node takes forwarded requests, and keep saying it."""
        self._address = f"{host}:{port}"
        await self._redis.set(self._key(self.tag), self._address, px=self._ttl_ms())
        self._refresher = asyncio.create_task(self._refresh())

    def cached(self, tag: str) -> tuple[str, int] | None:
        cached = self._cache.get(tag)
        return cached[0] if cached is not None and time.monotonic() < cached[1] else None

    async def resolve(self, tag: str) -> tuple[str, int] | None:
        now = time.monotonic()
        cached = self._cache.get(tag)
        if cached is not None and now < cached[1]:
            return cached[0]
        try:
            found = await self._redis.get(self._key(tag))
        except (RedisError, OSError) as error:
            log.warning("cannot look up peer %s in Redis: %s", tag[:16], error)
            return cached[0] if cached is not None else None
        address = _parse(found)
        self._cache[tag] = (address, now + (CACHE_FOR if address else MISS_FOR))
        if len(self._cache) > 1024:
            self._cache = {t: c for t, c in self._cache.items() if c[1] > now}
        return address

    async def close(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        with contextlib.suppress(RedisError, OSError):
            await self._redis.delete(self._key(self.tag))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self._redis.set(self._key(self.tag), self._address, px=self._ttl_ms())
            except (RedisError, OSError) as error:
                log.warning("cannot refresh this node's address in Redis: %s", error)

    def _key(self, tag: str) -> str:
        return self._p + tag

    def _ttl_ms(self) -> int:
        return int(self._ttl * 1000)


def _parse(found: object) -> tuple[str, int] | None:
    if isinstance(found, bytes):
        found = found.decode(errors="replace")
    if not isinstance(found, str):
        return None
    host, _, port = found.rpartition(":")
    return (host, int(port)) if host and port.isdigit() else None
