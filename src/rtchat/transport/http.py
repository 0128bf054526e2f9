"""HTTP routes beside Socket.IO: health, the browser client files, and npm's Socket.IO client."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

# The files of npm's socket.io-client/dist that a page may load from /socket.io/.
CLIENT_FILES = frozenset(
    {
        "socket.io.js",
        "socket.io.js.map",
        "socket.io.min.js",
        "socket.io.min.js.map",
        "socket.io.esm.min.js",
        "socket.io.esm.min.js.map",
    }
)


def create_http_app(static_dir: Path, status: Callable[[], dict[str, object]]) -> Starlette:
    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", **status()})

    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Mount("/", app=StaticFiles(directory=static_dir, html=True)),
        ]
    )


class SocketIOClientFiles:
    """Serves `/socket.io/socket.io.js` (and its siblings), as the Node server does. The
    engine answers `/socket.io/` itself and hands every other path to this app."""

    def __init__(self, app: ASGIApp, client_dir: Path | None) -> None:
        self._app = app
        self._client_dir = client_dir

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/socket.io/"):
            name = scope["path"][len("/socket.io/") :]
            if name in CLIENT_FILES:
                if self._client_dir is None or not (self._client_dir / name).is_file():
                    missing = Response(
                        "socket.io-client is not installed: run `npm ci`", status_code=404
                    )
                    await missing(scope, receive, send)
                    return
                media = "application/json" if name.endswith(".map") else "application/javascript"
                response = FileResponse(self._client_dir / name, media_type=media)
                await response(scope, receive, send)
                return
        await self._app(scope, receive, send)
