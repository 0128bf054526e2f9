"""The HTTP API for backends under `/api/v1/`: parse, one service call, answer.

Answers are JSON, `{"ok": true, "data": ...}` or `{"ok": false, "error": {code, message}}`
with the codes of the Socket.IO events and the HTTP status each code maps to. Every route
but the OpenAPI document needs `Authorization: Bearer <API key or site JWT>`. With no API
key and no site key set, nobody could use it, so it is not there: every `/api/` path
answers 404 `not_found`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.service import Chat
from rtchat.service.backend import Caller
from rtchat.service.changes import DELETION, edit_value, reaction_value
from rtchat.transport import codec
from rtchat.transport.openapi import openapi_document

log = logging.getLogger(__name__)

PREFIX = "/api/v1"

STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID_PAYLOAD: 400,
    ErrorCode.INVALID_USERNAME: 400,
    ErrorCode.INVALID_MESSAGE: 400,
    ErrorCode.INVALID_ROOM_NAME: 400,
    ErrorCode.INVALID_EMOJI: 400,
    ErrorCode.UNAUTHORIZED: 401,
    ErrorCode.INVALID_TOKEN: 401,
    ErrorCode.TOKEN_EXPIRED: 401,
    ErrorCode.FORBIDDEN: 403,
    ErrorCode.MUTED: 403,
    ErrorCode.NOT_AUTHOR: 403,
    ErrorCode.EDIT_WINDOW_PASSED: 403,
    ErrorCode.BLOCKED: 403,
    ErrorCode.ROOM_NOT_FOUND: 404,
    ErrorCode.USER_NOT_FOUND: 404,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.MESSAGE_NOT_FOUND: 404,
    ErrorCode.METHOD_NOT_ALLOWED: 405,
    ErrorCode.ROOM_EXISTS: 409,
    ErrorCode.MESSAGE_DELETED: 409,
    ErrorCode.USERNAME_TAKEN: 409,
    ErrorCode.RATE_LIMITED: 429,
    ErrorCode.UNAVAILABLE: 503,
}
"""The HTTP status of each code the API can answer; any other is a 500."""

_MESSAGE = "/rooms/{room}/messages/{id}"

_HTTP_CODES = {404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED}

Endpoint = Callable[[Request, Caller], Awaitable[Response]]


def create_api_app(chat: Chat, errors: dict[str, int]) -> Starlette:
    """The API, to mount at `PREFIX`; without keys, the app that answers 404 to all. Every
    error answer of an enabled API is counted in `errors` by code (for /metrics)."""
    backend = chat.backend
    if not backend.enabled:
        return Starlette(routes=[Route("/{path:path}", _off, methods=list(_ALL_METHODS))])
    document = orjson.dumps(openapi_document())

    def counted(error: ChatError) -> Response:
        errors[error.code] = errors.get(error.code, 0) + 1
        return failure(error)

    def authenticated(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def run(request: Request) -> Response:
            try:
                caller = await backend.caller(_bearer(request))
                return await endpoint(request, caller)
            except ChatError as error:
                return counted(error)
            except Exception:
                log.exception("%s %s failed", request.method, request.url.path[:80])
                return counted(ChatError(ErrorCode.INTERNAL))

        return run

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        response = counted(ChatError(_HTTP_CODES.get(exc.status_code, ErrorCode.NOT_FOUND)))
        if exc.headers:  # a 405's Allow
            response.headers.update(exc.headers)
        return response

    async def post_message(request: Request, caller: Caller) -> Response:
        body = await _object(request)
        message, created = await backend.post(
            caller,
            request.path_params["room"],
            body.get("text"),
            _key(request),
            body.get("replyTo"),
        )
        return success(codec.message_payload(message), 201 if created else 200)

    async def history(request: Request, caller: Caller) -> Response:
        before, limit = _number(request, "before"), _number(request, "limit")
        messages, more = await backend.history(caller, request.path_params["room"], before, limit)
        return success({"messages": [codec.message_payload(m) for m in messages], "hasMore": more})

    async def edit_message(request: Request, caller: Caller) -> Response:
        body = await _object(request)
        room, message_id = request.path_params["room"], request.path_params["id"]
        change = edit_value(body.get("text"))
        message = await backend.change(caller, room, message_id, change, _key(request))
        return success(codec.message_payload(message))

    async def delete_message(request: Request, caller: Caller) -> Response:
        room, message_id = request.path_params["room"], request.path_params["id"]
        message = await backend.change(caller, room, message_id, DELETION, _key(request))
        return success(codec.message_payload(message))

    async def react(request: Request, caller: Caller) -> Response:
        body = await _object(request)
        room, message_id = request.path_params["room"], request.path_params["id"]
        change = reaction_value(body.get("emoji"), body.get("on"))
        message = await backend.change(caller, room, message_id, change, _key(request))
        return success(codec.message_payload(message))

    async def search(request: Request, caller: Caller) -> Response:
        query = request.query_params
        found, after = await backend.search(
            caller,
            request.path_params["room"],
            query.get("q"),
            query.get("before"),
            _number(request, "limit"),
        )
        return success({"messages": [codec.message_payload(m) for m in found], "next": after})

    async def mark_read(request: Request, caller: Caller) -> Response:
        body = await _object(request)
        state = await backend.mark_read(caller, request.path_params["room"], body.get("seq"))
        return success(codec.read_state_payload(state))

    async def create_room(request: Request, caller: Caller) -> Response:
        body = await _object(request)
        summary = await backend.create_room(caller, body.get("name"), body.get("topic"))
        return success({"room": codec.room_payload(summary)}, 201)

    async def online(request: Request, caller: Caller) -> Response:
        users, count = await backend.online()
        return success({"users": [codec.user_payload(u) for u in users], "count": count})

    async def openapi(_: Request) -> Response:
        return Response(document, media_type="application/json")

    return Starlette(
        routes=[
            Route("/openapi.json", openapi, methods=["GET"]),
            Route("/online", authenticated(online), methods=["GET"]),
            Route("/rooms", authenticated(create_room), methods=["POST"]),
            Route("/rooms/{room}/messages", authenticated(history), methods=["GET"]),
            Route("/rooms/{room}/messages", authenticated(post_message), methods=["POST"]),
            Route(_MESSAGE, authenticated(edit_message), methods=["PATCH"]),
            Route(_MESSAGE, authenticated(delete_message), methods=["DELETE"]),
            Route(_MESSAGE + "/reactions", authenticated(react), methods=["POST"]),
            Route("/rooms/{room}/search", authenticated(search), methods=["GET"]),
            Route("/rooms/{room}/read-marker", authenticated(mark_read), methods=["PUT"]),
        ],
        exception_handlers={HTTPException: http_error},
    )


def success(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps({"ok": True, "data": data}), status, media_type="application/json")


def failure(error: ChatError) -> Response:
    status = STATUS.get(error.code, 500)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return Response(
        orjson.dumps({"ok": False, "error": error.to_wire()}),
        status,
        headers=headers,
        media_type="application/json",
    )


_ALL_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


async def _off(_: Request) -> Response:
    return failure(ChatError(ErrorCode.NOT_FOUND, "The HTTP API is off: no key is set."))


def _key(request: Request) -> str | None:
    """The `Idempotency-Key`: the `clientId` a retry is known by."""
    return request.headers.get("idempotency-key")


def _bearer(request: Request) -> str | None:
    scheme, _, credential = request.headers.get("authorization", "").partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else None


async def _object(request: Request) -> dict[str, Any]:
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError:
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "The body must be a JSON object.") from None
    if not isinstance(body, dict):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "The body must be a JSON object.")
    return body


def _number(request: Request, name: str) -> object:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    # Digits only: int() would take " 5", "5_0" and other scripts' digits too.
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= _MAX_DIGITS else raw


_MAX_DIGITS = 19  # 2**63 - 1, the largest sequence number, has 19
