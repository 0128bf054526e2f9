"""Name holds in Redis: a key per user that expires when the hold ends, so a name is held
on every node, and across a node's restart."""

from __future__ import annotations

import logging

from redis.exceptions import RedisError

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.redislink import RedisClient

log = logging.getLogger(__name__)


class RedisNameHolds:
    def __init__(self, client: RedisClient, prefix: str) -> None:
        self._redis = client
        self._p = f"{prefix}:hold:"

    async def hold(self, user_id: str, seconds: float) -> None:
        if seconds <= 0:
            return
        try:
            await self._redis.set(self._p + user_id, b"1", px=max(int(seconds * 1000), 1))
        except (RedisError, OSError) as error:
            # The name is then free after the owner left; nothing else is lost.
            log.warning("could not hold a name in Redis: %s", error)

    async def remaining(self, user_id: str) -> float:
        try:
            # PTTL: -2 without the key; holds are always set with an expiry.
            return max(0, int(await self._redis.pttl(self._p + user_id))) / 1000
        except (RedisError, OSError) as error:
            raise ChatError(
                ErrorCode.UNAVAILABLE, "Cannot check who holds this name just now; try again."
            ) from error
