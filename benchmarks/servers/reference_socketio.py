"""The Python status quo: the seed's four handlers on python-socketio's AsyncServer.

Run as ``python reference_socketio.py --host 127.0.0.1 --port 8000``. Same
behaviour as the seed's ``server.js``: every event is emitted to every
connection (``io.emit``), ``typing`` to everyone but the sender.

With ``--redis-url redis://host:port/0`` it is one node of a cluster, as python-socketio's
docs set one up: ``AsyncServer(client_manager=AsyncRedisManager(url))``, every emit
published on Redis for the other nodes.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import socketio
import uvicorn


def _now() -> str:
    # Same shape as JavaScript's new Date().toISOString().
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def create_app(redis_url: str | None = None) -> Any:
    """The seed's handlers on one AsyncServer, alone or sharing a Redis with other nodes."""
    manager = socketio.AsyncRedisManager(redis_url) if redis_url else None
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=manager)
    users: dict[str, str] = {}

    @sio.on("user-joined")
    async def user_joined(sid: str, username: Any) -> None:
        users[sid] = username
        await sio.emit("user-connected", {"username": username, "userId": sid, "timestamp": _now()})

    @sio.on("send-message")
    async def send_message(sid: str, message: Any) -> None:
        await sio.emit(
            "receive-message",
            {"username": users.get(sid), "message": message, "userId": sid, "timestamp": _now()},
        )

    @sio.on("typing")
    async def typing(sid: str, is_typing: Any) -> None:
        await sio.emit(
            "user-typing", {"username": users.get(sid), "isTyping": is_typing}, skip_sid=sid
        )

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        username = users.pop(sid, None)
        if username is not None:
            await sio.emit(
                "user-disconnected", {"username": username, "userId": sid, "timestamp": _now()}
            )

    return socketio.ASGIApp(sio)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis-url", help="share events with other nodes over this Redis")
    args = parser.parse_args()
    # uvicorn's defaults, as a user would run it (INFO logs a line per connection, like the
    # seed's console.log and rtchat serve).
    uvicorn.run(create_app(args.redis_url), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
