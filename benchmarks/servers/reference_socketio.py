"""The Python status quo: the seed's four handlers on python-socketio's AsyncServer.

Run as ``python reference_socketio.py --host 127.0.0.1 --port 8000``. Same
behaviour as the seed's ``server.js``: every event is emitted to every
connection (``io.emit``), ``typing`` to everyone but the sender.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

import socketio
import uvicorn

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)
users: dict[str, str] = {}


def _now() -> str:
    # Same shape as JavaScript's new Date().toISOString().
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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
    await sio.emit("user-typing", {"username": users.get(sid), "isTyping": is_typing}, skip_sid=sid)


@sio.event
async def disconnect(sid: str, reason: Any = None) -> None:
    username = users.pop(sid, None)
    if username is not None:
        await sio.emit(
            "user-disconnected", {"username": username, "userId": sid, "timestamp": _now()}
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    # uvicorn's defaults, as a user would run it (INFO logs a line per connection, like the
    # seed's console.log and rtchat serve).
    uvicorn.run(app, host=args.host, port=args.port)


if __name__ == "__main__":
    main()
