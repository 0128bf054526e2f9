"""HTTP routes beside Socket.IO: health, the browser client files, and npm's Socket.IO client.

Every page is served under `PAGE_POLICY`, a Content-Security-Policy that lets scripts
and styles come from this server's own files only (no inline script, no `eval`), so a
message that somehow reached the page as markup could still run nothing. Inline `style`
attributes stay allowed: the seed's page hides its chat with one. The engine adds the
other security headers (nosniff, no framing, no referrer) to every answer.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rtchat.transport.api import PREFIX as API_PREFIX

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


PAGE_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def create_http_app(
    static_dir: Path,
    status: Callable[[], dict[str, object]],
    ready: Callable[[], Awaitable[tuple[bool, dict[str, object]]]],
    metrics: Callable[[], bytes] | None = None,
    *,
    api: ASGIApp | None = None,
) -> Starlette:
    """`/healthz` (alive: always 200 with `status`), `/readyz` (200 if `ready` says so,
    else 503), `/metrics` (only with `metrics`; else 404), the HTTP API (`api`, at
    `/api/v1`), and the files of `static_dir`."""

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok", **status()})

    async def readyz(_: Request) -> Response:
        ok, body = await ready()
        return JSONResponse(body, status_code=200 if ok else 503)

    # Async on purpose: Starlette runs a sync endpoint in a thread, and the counts it reads
    # belong to the event loop's thread.
    async def scrape(_: Request) -> Response:
        assert metrics is not None
        return Response(metrics(), media_type=CONTENT_TYPE_LATEST)

    extra = [Route("/metrics", scrape)] if metrics is not None else []
    return Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *extra,
            *([] if api is None else [_AnyPathMount(API_PREFIX, app=api)]),
            # StaticFiles answers only GET and HEAD (405 with Allow otherwise).
            Mount("/", app=StaticFiles(directory=static_dir, html=True)),
        ],
        middleware=[Middleware(PagePolicy)],
    )


class PagePolicy:
    """Sets `PAGE_POLICY` as the Content-Security-Policy of every response."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return

        async def with_policy(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if bytes(name).lower() != b"content-security-policy"
                ]
                message["headers"] = [*headers, (b"content-security-policy", _POLICY)]
            await send(message)

        await self._app(scope, receive, with_policy)


_POLICY = PAGE_POLICY.encode()


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
                if scope["method"] not in ("GET", "HEAD"):
                    refused = Response(
                        "Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"}
                    )
                    await refused(scope, receive, send)
                    return
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


class _AnyPathMount(Mount):
    """A Mount whose rest of path may hold any character. Starlette's pattern ends at a
    newline (`.` without DOTALL), so `/api/v1/rooms/a%0Ab/messages` fell through to the
    router's plain-text 404 instead of reaching the API, which answers it in JSON."""

    def __init__(self, path: str, app: ASGIApp) -> None:
        super().__init__(path, app=app)
        self.path_regex = re.compile(self.path_regex.pattern, re.DOTALL)
