"""The shared parts of a cluster (fan-out, presence, name holds, rate limits) from one
backend, memory or Redis, for the contract suites: every node a test makes shares it."""

from __future__ import annotations

from dataclasses import dataclass, field

from rtchat.clock import SystemClock
from rtchat.fanout.memory import MemoryFanout, MemoryFanoutHub
from rtchat.fanout.redis import RedisFanout
from rtchat.names.memory import MemoryNameHolds
from rtchat.names.redis import RedisNameHolds
from rtchat.presence.memory import MemoryPresence, MemoryPresenceHub
from rtchat.presence.redis import RedisPresence
from rtchat.ratelimit.memory import MemoryRateLimiter
from rtchat.ratelimit.redis import RedisRateLimiter
from rtchat.redislink import RedisAddress, RedisClient

Presences = MemoryPresence | RedisPresence
Fanouts = MemoryFanout | RedisFanout


@dataclass
class Backend:
    kind: str
    client: RedisClient | None = None
    prefix: str = ""
    address: RedisAddress = field(default_factory=RedisAddress)
    _fanout_hub: MemoryFanoutHub = field(default_factory=MemoryFanoutHub)
    _presence_hubs: dict[float, MemoryPresenceHub] = field(default_factory=dict)
    _holds: MemoryNameHolds | None = None
    _limiters: dict[tuple[float, float], MemoryRateLimiter] = field(default_factory=dict)

    def fanout(self, node: str) -> Fanouts:
        if self.kind == "memory":
            return MemoryFanout(self._fanout_hub)
        return RedisFanout(self.address, self.prefix, node)

    def presence(self, node: str, ttl: float = 30.0) -> Presences:
        if self.kind == "memory":
            hub = self._presence_hubs.setdefault(ttl, MemoryPresenceHub(ttl, SystemClock()))
            return MemoryPresence(hub, node)
        assert self.client is not None
        return RedisPresence(self.client, self.prefix, node, ttl)

    def holds(self) -> MemoryNameHolds | RedisNameHolds:
        if self.kind == "memory":
            if self._holds is None:
                self._holds = MemoryNameHolds(SystemClock(), start_grace=0)
            return self._holds
        assert self.client is not None
        return RedisNameHolds(self.client, self.prefix)

    def limiter(self, rate: float, burst: float) -> MemoryRateLimiter | RedisRateLimiter:
        """One node's limiter; in memory every node of the process shares one."""
        if self.kind == "memory":
            return self._limiters.setdefault((rate, burst), MemoryRateLimiter(rate, burst))
        assert self.client is not None
        return RedisRateLimiter(self.client, self.prefix, rate, burst)
