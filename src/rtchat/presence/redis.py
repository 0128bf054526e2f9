"""Presence shared by every node through Redis, with a time to live per node.

Keys (under the prefix):

    p:nodes          sorted set: node -> when its entries expire (ms, Redis's clock)
    p:node:<node>    hash: user id -> who (below), the users this node holds
    p:user:<id>      set: the nodes holding this user
    p:online         sorted set, every score 0, so ordered by member:
                     "<name key>\\0<user id>\\0<who>" -> list_online pages
    p:member         hash: user id -> their member of p:online

"Who" is the username, followed by "\\0g" for a guest.

Each change is one Lua script, so two nodes racing on one user (a tab opening on one as
the last closes on another) cannot both announce or both miss. Every node refreshes its
expiry every `ttl / 3`; every node also sweeps: a script claims nodes whose expiry passed
(ZREM answers 1 to one caller only), takes their users out, and returns those who went
offline with them, so a crashed node's users are announced once, with no coordinator.
Times come from Redis (`TIME`), so the nodes' clocks need not agree.

The node keeps what it holds in memory too. When Redis fails, presence answers from that
(this node's users), nothing fails for the user, and the next refresh that reaches Redis
writes this node's entries again from it (Redis restarted, or swept us as dead).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection

from redis.exceptions import RedisError

from rtchat.domain.models import User
from rtchat.domain.names import name_key
from rtchat.redislink import RedisClient

log = logging.getLogger(__name__)

_NOW = "local t = redis.call('TIME'); local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"

# KEYS: nodes, node hash, user set, online, member. ARGV: node, uid, username, member, ttl ms
_ARRIVE = (
    _NOW
    + """
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[1])
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
local added = redis.call('SADD', KEYS[3], ARGV[1])
if added == 1 and redis.call('SCARD', KEYS[3]) == 1 then
  redis.call('ZADD', KEYS[4], 0, ARGV[4])
  redis.call('HSET', KEYS[5], ARGV[2], ARGV[4])
  return 1
end
return 0
"""
)

# KEYS: node hash, user set, online, member. ARGV: node, uid
_DEPART = """
redis.call('HDEL', KEYS[1], ARGV[2])
local removed = redis.call('SREM', KEYS[2], ARGV[1])
if removed == 1 and redis.call('SCARD', KEYS[2]) == 0 then
  local member = redis.call('HGET', KEYS[4], ARGV[2])
  if member then redis.call('ZREM', KEYS[3], member) end
  redis.call('HDEL', KEYS[4], ARGV[2])
  return 1
end
return 0
"""

# KEYS: nodes. ARGV: node, ttl ms. 1 if the node was not there (new, swept, or Redis lost it).
_REFRESH = _NOW + "return redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])\n"

# KEYS: nodes, online, member. ARGV: key prefix. Returns uid, username, uid, username...
_SWEEP = (
    _NOW
    + """
local gone = {}
local dead = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, node in ipairs(dead) do
  if redis.call('ZREM', KEYS[1], node) == 1 then
    local hash = ARGV[1] .. 'node:' .. node
    local users = redis.call('HGETALL', hash)
    for i = 1, #users, 2 do
      local uid, name = users[i], users[i + 1]
      local set = ARGV[1] .. 'user:' .. uid
      redis.call('SREM', set, node)
      if redis.call('SCARD', set) == 0 then
        local member = redis.call('HGET', KEYS[3], uid)
        if member then redis.call('ZREM', KEYS[2], member) end
        redis.call('HDEL', KEYS[3], uid)
        table.insert(gone, uid)
        table.insert(gone, name)
      end
    end
    redis.call('DEL', hash)
  end
end
return gone
"""
)


class RedisPresence:
    def __init__(self, client: RedisClient, prefix: str, node: str, ttl: float) -> None:
        self._redis = client
        self._node = node
        self._ttl_ms = int(ttl * 1000)
        self._ttl = ttl
        self._p = f"{prefix}:p:"
        self._nodes = self._p + "nodes"
        self._online = self._p + "online"
        self._member = self._p + "member"
        self._here: dict[str, User] = {}  # what this node holds, whatever Redis knows
        self._dirty = False  # Redis missed a change: write this node's entries again
        self._healthy = True
        self._refresher: asyncio.Task[None] | None = None
        self._arrive = client.register_script(_ARRIVE)
        self._depart = client.register_script(_DEPART)
        self._refresh_script = client.register_script(_REFRESH)
        self._sweep = client.register_script(_SWEEP)

    async def start(self) -> None:
        await self.refresh()
        self._refresher = asyncio.create_task(self._refresh_loop())

    async def close(self) -> None:
        await self.abandon()
        with contextlib.suppress(RedisError, OSError):
            for user in list(self._here.values()):
                await self._depart_script(user)
            await self._redis.zrem(self._nodes, self._node)
            await self._redis.delete(self._node_key(self._node))

    async def abandon(self) -> None:
        """Stop refreshing and leave every entry behind, as a crashed node does."""
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
            self._refresher = None

    async def arrive(self, user: User) -> bool:
        self._here[user.id] = user
        try:
            came = await self._arrive_script(user)
        except (RedisError, OSError) as error:
            self._failed("arrive", error)
            return True  # as far as this node can tell: it is their first connection here
        self._ok()
        return came

    async def depart(self, user: User) -> bool:
        self._here.pop(user.id, None)
        try:
            went = await self._depart_script(user)
        except (RedisError, OSError) as error:
            self._failed("depart", error)
            return True
        self._ok()
        return went

    async def online(self, user_ids: Collection[str]) -> set[str]:
        ids = list(user_ids)
        if not ids:
            return set()
        try:
            found = await self._redis.hmget(self._member, ids)
        except (RedisError, OSError) as error:
            self._failed("online", error)
            return {uid for uid in ids if uid in self._here}
        self._ok()
        return {uid for uid, member in zip(ids, found, strict=True) if member is not None}

    async def list_online(self, limit: int) -> tuple[list[User], int]:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                pipe.zrange(self._online, 0, max(limit, 0) - 1)
                pipe.zcard(self._online)
                members, count = await pipe.execute()
        except (RedisError, OSError) as error:
            self._failed("list_online", error)
            here = sorted(self._here.values(), key=lambda u: (name_key(u.username), u.id))
            return here[: max(limit, 0)], len(here)
        self._ok()
        users = []
        for member in members if limit > 0 else []:
            _, uid, who = member.decode().split("\0", 2)
            users.append(_user(uid, who))
        return users, int(count)

    async def expired(self) -> list[User]:
        try:
            flat = await self._sweep(keys=[self._nodes, self._online, self._member], args=[self._p])
        except (RedisError, OSError) as error:
            self._failed("sweep", error)
            return []
        self._ok()
        return [_user(flat[i].decode(), flat[i + 1].decode()) for i in range(0, len(flat), 2)]

    def healthy(self) -> bool:
        return self._healthy

    async def refresh(self) -> None:
        """Push this node's expiry forward; write its entries again if Redis lost them."""
        try:
            missing = await self._refresh_script(
                keys=[self._nodes], args=[self._node, self._ttl_ms]
            )
            if missing or self._dirty:
                await self._rewrite()
        except (RedisError, OSError) as error:
            self._failed("refresh", error)
            return
        self._ok()

    async def _rewrite(self) -> None:
        # Quietly: these users were online all along as far as anyone was told.
        stored = await self._redis.hkeys(self._node_key(self._node))
        known = {uid.decode() if isinstance(uid, bytes) else uid for uid in stored}
        for user in list(self._here.values()):
            if user.id not in known:
                await self._arrive_script(user)
        for uid in known - self._here.keys():
            await self._depart_script(User(uid, ""))
        self._dirty = False
        if self._here:
            log.info("wrote this node's %d online users to Redis again", len(self._here))

    async def _arrive_script(self, user: User) -> bool:
        who = _who(user)
        member = f"{name_key(user.username)}\0{user.id}\0{who}"
        keys = [self._nodes, self._node_key(self._node), self._user_key(user.id)]
        keys += [self._online, self._member]
        args: list[str | int] = [self._node, user.id, who, member, self._ttl_ms]
        return bool(await self._arrive(keys=keys, args=args))

    async def _depart_script(self, user: User) -> bool:
        keys = [self._node_key(self._node), self._user_key(user.id), self._online, self._member]
        return bool(await self._depart(keys=keys, args=[self._node, user.id]))

    def _node_key(self, node: str) -> str:
        return f"{self._p}node:{node}"

    def _user_key(self, user_id: str) -> str:
        return f"{self._p}user:{user_id}"

    def _failed(self, what: str, error: BaseException) -> None:
        if self._healthy:
            log.warning("Redis presence failed (%s): %s; answering from this node", what, error)
        self._healthy = False
        self._dirty = True

    def _ok(self) -> None:
        if not self._healthy:
            log.info("Redis presence is back")
        self._healthy = True

    async def _refresh_loop(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            await self.refresh()


def _who(user: User) -> str:
    return user.username + "\0g" if user.guest else user.username


def _user(user_id: str, who: str) -> User:
    name, _, flag = who.partition("\0")
    return User(user_id, name, guest=flag == "g")
