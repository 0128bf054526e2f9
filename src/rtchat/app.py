"""The composition root: reads Settings, picks the parts, builds the chat and the ASGI app.

Without `RTCHAT_REDIS_URL` every shared part is in this process's memory (one node, nothing
else to install); with it, fan-out, presence, name holds and rate limits go through Redis
and the node is one of a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from rtchat.auth.site_jwt import JwtSiteTokens
from rtchat.clock import SystemClock
from rtchat.domain.api_keys import ApiKeys
from rtchat.engine import SocketServer
from rtchat.engine.forward import Forwarder
from rtchat.engine.plain_ws import WsEndpoint, WsOptions
from rtchat.fanout.memory import MemoryFanout
from rtchat.metrics import Metrics, Sources
from rtchat.names.memory import MemoryNameHolds
from rtchat.ports import Clock, Fanout, NameHolds, Presence, SiteTokens, Storage
from rtchat.presence.memory import MemoryPresence, MemoryPresenceHub
from rtchat.ratelimit.memory import MemoryRateLimiter
from rtchat.service import Chat, Limiters, Limits, build_chat
from rtchat.settings import Settings
from rtchat.storage import open_storage
from rtchat.transport import ws_protocol
from rtchat.transport.api import create_api_app
from rtchat.transport.delivery import Deliveries
from rtchat.transport.events import EVENT_RATE_FACTOR
from rtchat.transport.http import SocketIOClientFiles, create_http_app
from rtchat.transport.operations import Operations
from rtchat.transport.socketio_server import ChatHandlers, SocketIODelivery, create_server
from rtchat.transport.ws_server import WsDelivery, WsHandlers

if TYPE_CHECKING:
    from rtchat.peers import RedisPeers

log = logging.getLogger(__name__)

WEB_DIR = Path(__file__).parent / "web"
_CLIENT_DIST = Path("node_modules") / "socket.io-client" / "dist"
SWEEP_SECONDS = 1.0
# `/readyz` reads this room's last sequence number (none has it: the read is the probe) and
# pings Redis, each allowed this many seconds.
READY_PROBE_ROOM = "readyz-probe"
READY_TIMEOUT = 2.0


@dataclass(frozen=True, slots=True)
class Application:
    asgi: ASGIApp  # every HTTP route that is not Socket.IO
    chat: Chat
    sio: SocketServer
    node: str
    endpoints: tuple[WsEndpoint, ...]  # plain WebSocket endpoints beside Socket.IO: `/ws`
    peers: RedisPeers | None = None  # with Redis: where the other nodes are
    forwarder: Forwarder | None = None  # ... and how their sessions' requests reach them


@dataclass(frozen=True, slots=True)
class SharedParts:
    """What a node shares with the others (or keeps to itself, alone)."""

    fanout: Fanout
    presence: Presence
    holds: NameHolds
    limiters: Limiters
    redis: bool  # whether the shared parts are Redis's
    peers: RedisPeers | None = None
    ping: Callable[[], Awaitable[object]] | None = None  # a round trip to Redis, for /readyz
    closers: tuple[Callable[[], Awaitable[object]], ...] = ()

    async def close(self) -> None:
        for close in self.closers:
            await close()


def node_id(settings: Settings) -> str:
    """`RTCHAT_NODE_ID`, or a new one: the host's name, the process id and a random part."""
    if settings.node_id:
        return settings.node_id
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())
    return f"{host[:24]}-{os.getpid()}-{secrets.token_hex(2)}"


def find_socketio_client(settings: Settings) -> Path | None:
    if settings.socketio_client_dir is not None:
        return settings.socketio_client_dir
    checkout = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), checkout):
        if (base / _CLIENT_DIST / "socket.io.js").is_file():
            return base / _CLIENT_DIST
    return None


def limits(settings: Settings) -> Limits:
    return Limits(
        send_rate=settings.rate_limit,
        send_burst=settings.rate_burst,
        name_grace=settings.name_grace,
        joins_per_minute=settings.joins_per_minute,
        rooms_per_hour=settings.rooms_per_hour,
        rooms_per_hour_per_address=settings.rooms_per_hour_per_address,
        account_retention_days=settings.account_retention_days,
        edit_window=settings.edit_window,
    )


def site_tokens(settings: Settings, clock: Clock) -> SiteTokens | None:
    """The site's JWTs, if a key is set. Raises `ValueError` for an unusable public key."""
    if settings.jwt_secret:
        return JwtSiteTokens.from_secret(settings.jwt_secret, clock)
    if settings.jwt_public_key:
        return JwtSiteTokens.from_public_key(settings.jwt_public_key, clock)
    return None


def _memory_parts(settings: Settings, clock: Clock, node: str) -> SharedParts:
    return SharedParts(
        fanout=MemoryFanout(),
        presence=MemoryPresence(MemoryPresenceHub(ttl=settings.presence_ttl, clock=clock), node),
        holds=MemoryNameHolds(clock, start_grace=settings.name_grace),
        limiters=Limiters.build(limits(settings), MemoryRateLimiter),
        redis=False,
    )


async def _redis_parts(settings: Settings, node: str) -> SharedParts:
    # Imported here: a single node never loads the Redis client.
    from rtchat.fanout.redis import RedisFanout
    from rtchat.names.redis import RedisNameHolds
    from rtchat.peers import RedisPeers
    from rtchat.presence.redis import RedisPresence
    from rtchat.ratelimit.redis import RedisRateLimiter
    from rtchat.redislink import RedisAddress, check, open_client

    address = RedisAddress.parse(settings.redis_url)
    client = open_client(address)
    prefix = settings.redis_prefix
    try:
        await check(client, address)
        peers = RedisPeers(client, prefix, settings.presence_ttl)
        await peers.claim()
    except BaseException:
        await client.aclose()
        raise
    made: list[RedisRateLimiter] = []

    def limiter(rate: float, burst: float) -> RedisRateLimiter:
        made.append(RedisRateLimiter(client, prefix, rate, burst))
        return made[-1]

    limiters = Limiters.build(limits(settings), limiter)
    return SharedParts(
        fanout=RedisFanout(address, prefix, node),
        presence=RedisPresence(client, prefix, node, settings.presence_ttl),
        holds=RedisNameHolds(client, prefix),
        limiters=limiters,
        redis=True,
        peers=peers,
        ping=client.ping,
        closers=(peers.close, *(m.close for m in made), client.aclose),
    )


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Application]:
    """Open storage (and Redis), build the app, and close everything on the way out.

    Raises:
        ValueError: the database or Redis cannot be used; one sentence, fit to stop
            start-up with.
    """
    node = node_id(settings)
    clock = SystemClock()
    storage = await open_storage(settings.database_url)
    try:
        if settings.redis_url:
            parts = await _redis_parts(settings, node)
        else:
            parts = _memory_parts(settings, clock, node)
        try:
            async with _chat(settings, storage, parts, clock, node) as application:
                yield application
        finally:
            await parts.close()
    finally:
        await storage.close()


@contextlib.asynccontextmanager
async def _chat(
    settings: Settings, storage: Storage, parts: SharedParts, clock: Clock, node: str
) -> AsyncIterator[Application]:
    sio = create_server(
        max_payload_bytes=settings.max_payload_bytes,
        cors_origins=settings.cors_origin_list or [],
        head_timeout=settings.request_head_timeout,
        body_timeout=settings.request_body_timeout,
        upgrade_timeout=settings.upgrade_timeout,
        max_header_bytes=settings.max_header_bytes,
        max_headers=settings.max_headers,
        max_connections_per_ip=settings.max_connections_per_ip,
        max_buffered=settings.max_buffered_bytes,
        output_budget=settings.output_budget_bytes,
        sid_tag=parts.peers.tag if parts.peers is not None else "",
    )
    engine = sio.options
    plain = WsEndpoint(
        WsOptions(
            path=ws_protocol.PATH,
            subprotocol=ws_protocol.SUBPROTOCOL,
            ping_interval=engine.ping_interval,
            ping_timeout=engine.ping_timeout,
            max_payload=engine.max_payload,
            max_buffered=engine.max_buffered,
            output_budget=engine.output_budget,
            cors_origins=engine.cors_origins,
            id_tag=engine.sid_tag,
        ),
        backlog=sio.eio.backlog,  # one output budget for both transports' connections
    )
    deliveries = Deliveries(SocketIODelivery(sio), WsDelivery(plain))
    chat = build_chat(
        node=node,
        storage=storage,
        presence=parts.presence,
        holds=parts.holds,
        limiters=parts.limiters,
        fanout=parts.fanout,
        delivery=deliveries,
        clock=clock,
        limits=limits(settings),
        site_tokens=site_tokens(settings, clock),
        api_keys=ApiKeys(settings.api_key_pairs()),
        site_moderators=settings.moderator_names(),
    )
    await chat.start(storage)
    try:
        operations = Operations(
            chat,
            clock,
            event_rate=settings.rate_limit * EVENT_RATE_FACTOR,
            event_burst=settings.rate_burst * EVENT_RATE_FACTOR,
        )
        ChatHandlers(sio, operations)
        WsHandlers(plain, operations)

        forwarder = Forwarder(parts.peers) if parts.peers is not None else None

        def status() -> dict[str, object]:
            redis = "off"
            if parts.redis:
                redis = "ok" if parts.fanout.healthy() and parts.presence.healthy() else "down"
            store = "ok" if storage.healthy() else "unavailable"
            return {
                "status": "ok" if store == "ok" and redis != "down" else "degraded",
                "node": node,
                "connections": chat.identity.connection_count(),
                "users": chat.identity.users_here(),
                "storage": store,
                "redis": redis,
                "forwarded": forwarder.forwarded if forwarder is not None else 0,
                "filled": chat.relay.filled,
            }

        async def ready() -> tuple[bool, dict[str, object]]:
            store = "ok" if await _answers(storage.messages.last_seq(READY_PROBE_ROOM)) else "down"
            redis = "off"
            if parts.redis:
                linked = parts.fanout.healthy() and parts.presence.healthy()
                pinged = parts.ping is not None and await _answers(parts.ping())
                redis = "ok" if linked and pinged else "down"
            draining = sio.draining
            ready = store == "ok" and redis != "down" and not draining
            return ready, {
                "ready": ready,
                "node": node,
                "storage": store,
                "redis": redis,
                "draining": draining,
            }

        api_errors: dict[str, int] = {}  # the HTTP API's error answers by code: /metrics
        metrics = None
        if settings.metrics:
            metrics = Metrics(
                Sources(
                    node=node,
                    sio=sio,
                    plain=plain,
                    chat=chat,
                    recipients=deliveries.recipients,
                    errors=operations.errors,
                    api_errors=api_errors,
                    forwarded=lambda: forwarder.forwarded if forwarder is not None else 0,
                    draining=lambda: sio.draining,
                )
            ).render
        http = create_http_app(
            settings.static_dir or WEB_DIR,
            status,
            ready,
            metrics,
            api=create_api_app(chat, api_errors),
        )
        asgi = SocketIOClientFiles(http, find_socketio_client(settings))
        sweeper = asyncio.create_task(_sweep(chat))
        try:
            yield Application(
                asgi=asgi,
                chat=chat,
                sio=sio,
                node=node,
                endpoints=(plain,),
                peers=parts.peers,
                forwarder=forwarder,
            )
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
    finally:
        await chat.close()


async def _answers(probe: Awaitable[object]) -> bool:
    """Whether a request to the database or Redis came back within `READY_TIMEOUT`."""
    try:
        await asyncio.wait_for(probe, READY_TIMEOUT)
    except (Exception, TimeoutError):
        return False
    return True


async def _sweep(chat: Chat) -> None:
    # One timer for every connection: expire typing, announce the users of crashed nodes.
    while True:
        await asyncio.sleep(SWEEP_SECONDS)
        try:
            await chat.sweep()
        except Exception:
            log.exception("the sweep failed; trying again in %s s", SWEEP_SECONDS)
