"""A real engine on 127.0.0.1 and a free port, with an echo namespace, for the engine tests;
and a link that records what is written to it, for the tests of the engine's cores."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator, MutableMapping
from typing import Any

from starlette.responses import FileResponse

from rtchat.engine import ConnectRefused, EngineOptions, Server, SocketServer
from rtchat.engine.eio_session import EioSession
from rtchat.engine.plain_ws import WsEndpoint


async def hello_app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """The ASGI app behind every other path; `/file` is this file, as Starlette sends files
    (listening for the disconnect while it sends)."""
    if scope["path"] == "/file":
        await FileResponse(__file__)(scope, receive, send)
        return
    body = b"hello from asgi " + scope["path"].encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def echo_server(options: EngineOptions | None = None) -> SocketServer:
    """`echo` answers its arguments as the ack (or emits them back without one); `hello`
    on connect; `auth` {"token": "bad"} is refused; namespace /admin exists too."""
    sio = SocketServer(options)

    async def connect(sid: str, auth: dict[str, Any] | None) -> None:
        if auth and auth.get("token") == "bad":
            raise ConnectRefused("bad token", {"retry": False})
        sio.emit("hello", {"sid": sid}, to=sid)

    async def event(sid: str, name: str, args: list[Any], ack: bool) -> object:
        if name == "join":
            sio.enter_room(sid, args[0])
            return "joined"
        if name == "ask-me":  # the server asks the client, and answers with its answer
            return await sio.call(sid, "question", *args, within=2)
        if name == "shout":
            sio.emit("shout", *args[1:], to=args[0], skip={sid})
            return None
        if ack:
            return tuple(args)
        sio.emit(name, *args, to=sid)
        return None

    async def nothing(sid: str, auth: dict[str, Any] | None) -> None:
        return None

    reasons: list[str] = []

    async def disconnect(sid: str, reason: str) -> None:
        reasons.append(reason)

    sio.on_connect(connect)
    sio.on_event(event)
    sio.on_disconnect(disconnect)
    sio.reasons = reasons  # type: ignore[attr-defined]  # what the tests look at
    sio.on_connect(nothing, "/admin")
    return sio


@contextlib.asynccontextmanager
async def running_engine(
    sio: SocketServer, app: Any = hello_app, endpoints: tuple[WsEndpoint, ...] = ()
) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = Server(sio, app, endpoints=endpoints)
    await server.start(sock)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        await server.stop(grace=1)


class RecordingTransport:
    """What a write leaves behind, and how much of it the kernel has not taken."""

    def __init__(self, unsent: int = 0) -> None:
        self.written: list[bytes] = []
        self.unsent = unsent

    def write(self, data: bytes) -> None:
        self.written.append(bytes(data))

    def get_write_buffer_size(self) -> int:
        return self.unsent

    def get_extra_info(self, name: str) -> object:
        return None


class RecordingLink:
    """An `eio_session.Link` over a `RecordingTransport`."""

    def __init__(self, unsent: int = 0) -> None:
        self.transport = RecordingTransport(unsent)
        self.session: EioSession | None = None

    def respond(
        self,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=UTF-8",
        headers: list[str] | None = None,
    ) -> None:
        self.transport.write(b"%d " % status + body)

    def close_ws(self, code: int, reason: str) -> None:
        pass

    @property
    def closing(self) -> bool:
        return False
