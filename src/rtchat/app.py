"""The composition root: reads Settings, builds the service and the ASGI application."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import socketio
from starlette.types import ASGIApp

from rtchat.clock import SystemClock
from rtchat.service import ChatService, Limits
from rtchat.settings import Settings
from rtchat.transport.http import SocketIOClientFiles, create_http_app
from rtchat.transport.socketio_server import ChatHandlers, SocketIOBroadcaster, create_server

WEB_DIR = Path(__file__).parent / "web"
_CLIENT_DIST = Path("node_modules") / "socket.io-client" / "dist"


@dataclass(frozen=True, slots=True)
class Application:
    asgi: ASGIApp
    service: ChatService
    sio: socketio.AsyncServer


def find_socketio_client(settings: Settings) -> Path | None:
    if settings.socketio_client_dir is not None:
        return settings.socketio_client_dir
    checkout = Path(__file__).resolve().parents[2]
    for base in (Path.cwd(), checkout):
        if (base / _CLIENT_DIST / "socket.io.js").is_file():
            return base / _CLIENT_DIST
    return None


def build_app(settings: Settings) -> Application:
    clock = SystemClock()
    sio = create_server(
        max_payload_bytes=settings.max_payload_bytes,
        cors_origins=settings.cors_origin_list or [],
    )
    service = ChatService(
        SocketIOBroadcaster(sio),
        clock,
        Limits(send_rate=settings.rate_limit, send_burst=settings.rate_burst),
    )
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
            "users": len(service.online_users()),
        },
    )
    asgi = SocketIOClientFiles(
        socketio.ASGIApp(sio, other_asgi_app=http), find_socketio_client(settings)
    )
    return Application(asgi=asgi, service=service, sio=sio)
