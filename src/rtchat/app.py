"""The composition root: reads Settings, opens storage, builds the service and the ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from starlette.types import ASGIApp

from rtchat.clock import SystemClock
from rtchat.engine import SocketServer
from rtchat.presence.memory import MemoryPresence
from rtchat.service import ChatService, Limits
from rtchat.settings import Settings
from rtchat.storage import open_storage
from rtchat.transport.http import SocketIOClientFiles, create_http_app
from rtchat.transport.socketio_server import ChatHandlers, SocketIOBroadcaster, create_server

WEB_DIR = Path(__file__).parent / "web"
_CLIENT_DIST = Path("node_modules") / "socket.io-client" / "dist"
TYPING_SWEEP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Application:
    asgi: ASGIApp  # every HTTP route that is not Socket.IO
    service: ChatService
    sio: SocketServer


def find_socketio_client(settings: Settings) -> Path | None:
    if settings.socketio_client_dir is not None:
        return settings.socketio_client_dir
    checkout = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), checkout):
        if (base / _CLIENT_DIST / "socket.io.js").is_file():
            return base / _CLIENT_DIST
    return None


@contextlib.asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[Application]:
    """Open storage, build the app, and close everything on the way out."""
    storage = await open_storage(settings.database_url)
    try:
        clock = SystemClock()
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
        )
        service = ChatService(
            storage,
            MemoryPresence(),
            SocketIOBroadcaster(sio),
            clock,
            Limits(
                send_rate=settings.rate_limit,
                send_burst=settings.rate_burst,
                name_grace=settings.name_grace,
            ),
        )
        await service.start()
        ChatHandlers(
            sio,
            service,
            clock,
            event_rate=settings.rate_limit * 5,
            event_burst=settings.rate_burst * 5,
        )
        http = create_http_app(
            settings.static_dir or WEB_DIR,
            lambda: {
                "connections": service.connection_count(),
                "users": service.online_count(),
            },
        )
        asgi = SocketIOClientFiles(http, find_socketio_client(settings))
        sweeper = asyncio.create_task(_sweep_typing(service))
        try:
            yield Application(asgi=asgi, service=service, sio=sio)
        finally:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
    finally:
        await storage.close()


async def _sweep_typing(service: ChatService) -> None:
    # One timer for every connection: expire typing reports nobody stopped.
    while True:
        await asyncio.sleep(TYPING_SWEEP_SECONDS)
        await service.expire_typing()
