"""Per-user token buckets shared by every node through Redis.

`allow` must answer without waiting (the message path may not suspend before its store
append, or one connection's messages could be stored out of order), so each node decides
from its own bucket and settles with Redis right after: the takes of one loop iteration
go in one pipeline of a script that spends them from the shared bucket and answers what
is left, and the node's bucket is lowered to that. A user sending from two nodes is held
to one limit, give or take what they can send within one round trip to Redis. While Redis
is away, each node limits on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from redis.exceptions import RedisError

from rtchat.ratelimit.memory import MemoryRateLimiter
from rtchat.redislink import RedisClient

log = logging.getLogger(__name__)

# KEYS: bucket. ARGV: takes, rate, burst. Answers the tokens left (may be below zero).
_SPEND = """
local t = redis.call('TIME'); local now = t[1] + t[2] / 1000000
local rate, burst = tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]) or burst, tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate) - tonumber(ARGV[1])
if tokens < -burst then tokens = -burst end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst / rate) * 2000) + 1000)
return tostring(tokens)
"""


class RedisRateLimiter:
    def __init__(self, client: RedisClient, prefix: str, rate: float, burst: float) -> None:
        self._redis = client
        self._p = f"{prefix}:rate:"
        self._rate = rate
        self._burst = burst
        self._local = MemoryRateLimiter(rate, burst)  # what this node decides by
        self._unsettled: dict[str, int] = {}
        self._settling: asyncio.Task[None] | None = None
        self._spend = client.register_script(_SPEND)

    def allow(self, key: str, now: float) -> bool:
        if self._rate <= 0:
            return True
        if not self._local.allow(key, now):
            return False
        self._unsettled[key] = self._unsettled.get(key, 0) + 1
        if self._settling is None:
            self._settling = asyncio.get_running_loop().create_task(self._settle())
        return True

    async def close(self) -> None:
        if self._settling is not None:
            self._settling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._settling

    async def _settle(self) -> None:
        try:
            while self._unsettled:
                batch, self._unsettled = self._unsettled, {}
                keys = list(batch)
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for key in keys:
                            await self._spend(
                                keys=[self._p + key],
                                args=[batch[key], self._rate, self._burst],
                                client=pipe,
                            )
                        left = await pipe.execute()
                except (RedisError, OSError) as error:
                    log.debug("rate limits not shared this time: %s", error)
                    return
                for key, tokens in zip(keys, left, strict=True):
                    self._local.lower(key, float(tokens))
        finally:
            self._settling = None
