"""The OpenAPI 3.1 document of the HTTP API, served at `/api/v1/openapi.json`.

Written by hand beside the routes (`transport/api.py`), with the limits formatted from the
constants that enforce them; tests check that it lists exactly the routes the app has, and
schemathesis checks the live server's answers against it.
"""

from __future__ import annotations

from typing import Any

from rtchat.domain.errors import ERROR_CODES
from rtchat.domain.models import QUOTE_LENGTH, REACTION_NAMES
from rtchat.domain.rules import (
    MAX_CLIENT_ID_LENGTH,
    MAX_MESSAGE_LENGTH,
    MAX_ROOM_NAME_LENGTH,
    MAX_SEARCH_QUERY,
    MAX_SEQ,
    MAX_TOPIC_LENGTH,
)
from rtchat.service import (
    HISTORY_PAGE,
    MAX_HISTORY_PAGE,
    MAX_SEARCH_PAGE,
    ONLINE_LIST_LIMIT,
    SEARCH_PAGE,
)

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(data: Schema) -> Schema:
    return {
        "type": "object",
        "required": ["ok", "data"],
        "properties": {"ok": {"const": True}, "data": data},
    }


def _answer(description: str, data: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": _ok(data)}}}


def _errors(*statuses: int) -> dict[str, Schema]:
    failed = {"application/json": {"schema": _ref("Failure")}}
    meaning = {
        400: "The request has the wrong shape (`invalid_payload`, `invalid_message`, "
        "`invalid_emoji`, ...).",
        401: "No key, an unknown key, or a refused JWT (`unauthorized`, `invalid_token`, "
        "`token_expired`).",
        403: "The caller may not do this here (`forbidden`), is muted in the room (`muted`, "
        "with `until`) or blocked from this direct message (`blocked`); for a change of a "
        "message, is not its author (`not_author`) or past the edit window "
        "(`edit_window_passed`).",
        404: "No such room (`room_not_found`) or no such message in it (`message_not_found`).",
        409: "The room exists already (`room_exists`); the message was deleted "
        "(`message_deleted`).",
        429: "Too many messages or new rooms from this caller (`rate_limited`).",
        503: "The database cannot be reached just now (`unavailable`); try again.",
    }
    return {str(s): {"description": meaning[s], "content": failed} for s in statuses}


# The patterns say what is sure to be taken, so generated "valid" requests are valid; the
# server is more lenient (it trims, lowercases names, takes any text without control
# characters in a topic), as the descriptions say.
_ROOM_NAME = f"^[A-Za-z0-9_-]{{1,{MAX_ROOM_NAME_LENGTH}}}$"
_ROOM_REF = f"^([a-z0-9_-]{{1,{MAX_ROOM_NAME_LENGTH}}}|dm:[0-9a-z:]{{1,77}})$"
_VISIBLE = "[!-~]"  # printable ASCII but the space

_ROOM_PARAM = {
    "name": "room",
    "in": "path",
    "required": True,
    "description": "A room's name, or a direct-message room's id (`dm:...`).",
    "schema": {"type": "string", "pattern": _ROOM_REF},
}

_MESSAGE_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The message's `id`.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CLIENT_ID_LENGTH},
}

_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "A retry with the same key answers what the first request stored "
    "and stores and sends nothing new.",
    "schema": {"type": "string", "pattern": f"^{_VISIBLE}{{1,{MAX_CLIENT_ID_LENGTH}}}$"},
}

_TEXT = {
    "type": "string",
    "maxLength": MAX_MESSAGE_LENGTH,
    "pattern": r"\S",
    "description": f"1-{MAX_MESSAGE_LENGTH} characters after trimming.",
}


def _body(required: list[str], properties: Schema) -> Schema:
    schema = {"type": "object", "required": required, "properties": properties}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _page(description: str, more: str, schema: Schema) -> Schema:
    """An answer of a page of messages and `more`, which says where the rest is."""
    return _answer(
        description,
        {
            "type": "object",
            "required": ["messages", more],
            "properties": {"messages": {"type": "array", "items": _ref("Message")}, more: schema},
        },
    )


def _changed(summary: str, operation_id: str, body: Schema | None = None) -> Schema:
    """A change of one message by the caller, answered with the message as it stands."""
    operation: Schema = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [_IDEMPOTENCY_KEY],
        "responses": {
            "200": _answer("The message as it stands now.", _ref("Message")),
            **_errors(400, 401, 403, 404, 409, 429, 503),
        },
    }
    if body is not None:
        operation["requestBody"] = body
    return operation


_SCHEMAS: dict[str, Schema] = {
    "User": {
        "type": "object",
        "required": ["accountId", "username", "guest"],
        "properties": {
            "accountId": {"type": "string"},
            "username": {"type": "string"},
            "guest": {"type": "boolean"},
        },
    },
    "RoomInfo": {
        "type": "object",
        "required": ["name", "kind", "topic", "memberCount", "lastSeq"],
        "properties": {
            "name": {"type": "string"},
            "kind": {"enum": ["room", "dm"]},
            "topic": {"type": "string"},
            "memberCount": {"type": "integer", "minimum": 0},
            "lastSeq": {"type": "integer", "minimum": 0},
            "peer": _ref("User"),
            "role": {
                "enum": ["owner", "moderator", "member"],
                "description": "The caller's role in the room it created: `owner`.",
            },
        },
    },
    "Message": {
        "type": "object",
        "description": "As `receive-message` carries it over Socket.IO.",
        "required": [
            "id",
            "room",
            "seq",
            "clientId",
            "username",
            "message",
            "userId",
            "accountId",
            "guest",
            "timestamp",
            "mentions",
            "replyTo",
            "editedAt",
            "deleted",
            "reactions",
        ],
        "properties": {
            "id": {"type": "string"},
            "room": {"type": "string"},
            "seq": {"type": "integer", "minimum": 1},
            "clientId": {"type": ["string", "null"]},
            "username": {"type": "string"},
            "message": {"type": "string"},
            "userId": {
                "type": ["string", "null"],
                "description": "The connection it was sent from; `null` through this API.",
            },
            "accountId": {"type": "string"},
            "guest": {"type": "boolean"},
            "timestamp": {"type": "string"},
            "mentions": {
                "type": "array",
                "description": "The room's members the text names as `@name`.",
                "items": {
                    "type": "object",
                    "required": ["accountId", "username"],
                    "properties": {
                        "accountId": {"type": "string"},
                        "username": {"type": "string"},
                    },
                },
            },
            "replyTo": {
                "description": "The message it answers, as it stands now; `null` if none.",
                "oneOf": [
                    {"type": "null"},
                    {
                        "type": "object",
                        "required": ["id", "seq", "username", "message", "deleted"],
                        "properties": {
                            "id": {"type": "string"},
                            "seq": {"type": "integer", "minimum": 1},
                            "username": {"type": "string"},
                            "message": {"type": "string", "maxLength": QUOTE_LENGTH},
                            "deleted": {"type": "boolean"},
                        },
                    },
                ],
            },
            "editedAt": {"type": ["string", "null"]},
            "deleted": {"type": "boolean", "description": "A tombstone: `message` is empty."},
            "reactions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["emoji", "count", "usernames"],
                    "properties": {
                        "emoji": {"type": "string"},
                        "count": {"type": "integer", "minimum": 1},
                        "usernames": {
                            "type": "array",
                            "maxItems": REACTION_NAMES,
                            "items": {"type": "string"},
                        },
                    },
                },
            },
        },
    },
    "ReadState": {
        "type": "object",
        "description": "As `read-marker` carries it.",
        "required": ["room", "seq", "unread", "mentions"],
        "properties": {
            "room": {"type": "string"},
            "seq": {"type": "integer", "minimum": 0},
            "unread": {"type": "integer", "minimum": 0},
            "mentions": {"type": "integer", "minimum": 0},
        },
    },
    "Failure": {
        "type": "object",
        "required": ["ok", "error"],
        "properties": {
            "ok": {"const": False},
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"enum": [str(code) for code in ERROR_CODES]},
                    "message": {"type": "string"},
                    "retryAfter": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Seconds until the same request may succeed, when known.",
                    },
                },
            },
        },
    },
}


def openapi_document() -> Schema:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "rtchat HTTP API",
            "version": "1",
            "description": "For backends and bots: post to a room (a reply too), edit, delete "
            "and react, read its history, search it, create rooms, see who is online, and "
            "(a site's user) move a read marker. Authenticate with `Authorization: Bearer` "
            "and an API key (`RTCHAT_API_KEYS`, acting as its bot) or a site JWT (acting as "
            "its user). Error codes are those of docs/protocol.md.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/online": {
                "get": {
                    "operationId": "listOnline",
                    "summary": f"Up to {ONLINE_LIST_LIMIT} users online on any node, by name.",
                    "responses": {
                        "200": _answer(
                            "Who is online; `count` counts them all.",
                            {
                                "type": "object",
                                "required": ["users", "count"],
                                "properties": {
                                    "users": {"type": "array", "items": _ref("User")},
                                    "count": {"type": "integer", "minimum": 0},
                                },
                            },
                        ),
                        **_errors(401, 503),
                    },
                }
            },
            "/rooms": {
                "post": {
                    "operationId": "createRoom",
                    "summary": "Create a public room (everyone receives `room-created`).",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {
                                        "name": {
                                            "type": "string",
                                            "pattern": _ROOM_NAME,
                                            "description": f"1-{MAX_ROOM_NAME_LENGTH} of "
                                            "a-z 0-9 - _ (lowercased).",
                                        },
                                        "topic": {
                                            "type": "string",
                                            "maxLength": MAX_TOPIC_LENGTH,
                                            "pattern": "^[ -~]*$",
                                            "description": "Any text without control "
                                            "characters; trimmed.",
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "201": _answer(
                            "The new room.",
                            {
                                "type": "object",
                                "required": ["room"],
                                "properties": {"room": _ref("RoomInfo")},
                            },
                        ),
                        **_errors(400, 401, 409, 429, 503),
                    },
                }
            },
            "/rooms/{room}/messages": {
                "parameters": [_ROOM_PARAM],
                "get": {
                    "operationId": "history",
                    "summary": "A page of the room's messages, oldest first, as `history`.",
                    "parameters": [
                        {
                            "name": "before",
                            "in": "query",
                            "description": "Messages before this sequence number; "
                            "absent: the latest.",
                            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_SEQ},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": f"How many ({HISTORY_PAGE} by default).",
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": MAX_HISTORY_PAGE,
                            },
                        },
                    ],
                    "responses": {
                        "200": _page(
                            "The page; `hasMore` if older messages remain.",
                            "hasMore",
                            {"type": "boolean"},
                        ),
                        **_errors(400, 401, 403, 404, 503),
                    },
                },
                "post": {
                    "operationId": "postMessage",
                    "summary": "Post a message; the room's clients receive `receive-message`.",
                    "parameters": [_IDEMPOTENCY_KEY],
                    "requestBody": _body(
                        ["text"],
                        {
                            "text": _TEXT,
                            "replyTo": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_CLIENT_ID_LENGTH,
                                "description": "The `id` of a message of the same room this "
                                "one answers (`message_not_found` if none); the message "
                                "carries its quote.",
                            },
                        },
                    ),
                    "responses": {
                        "201": _answer("The stored message.", _ref("Message")),
                        "200": _answer(
                            "The message stored by an earlier request with this `Idempotency-Key`.",
                            _ref("Message"),
                        ),
                        **_errors(400, 401, 403, 404, 429, 503),
                    },
                },
            },
            "/rooms/{room}/messages/{id}": {
                "parameters": [_ROOM_PARAM, _MESSAGE_PARAM],
                "patch": _changed(
                    "Edit the caller's own message, as `edit-message` (the room receives "
                    "`message-edited`).",
                    "editMessage",
                    _body(["text"], {"text": _TEXT}),
                ),
                "delete": _changed(
                    "Delete the caller's own message (any, as the room's moderator), as "
                    "`delete-message` (the room receives `message-deleted`).",
                    "deleteMessage",
                ),
            },
            "/rooms/{room}/messages/{id}/reactions": {
                "parameters": [_ROOM_PARAM, _MESSAGE_PARAM],
                "post": _changed(
                    "Give or take back the caller's reaction, as `react` (the room "
                    "receives `reaction-changed`).",
                    "react",
                    _body(
                        ["emoji"],
                        {
                            "emoji": {"type": "string", "description": "One emoji."},
                            "on": {
                                "type": "boolean",
                                "description": "Give (true, the default) or take back.",
                            },
                        },
                    ),
                ),
            },
            "/rooms/{room}/search": {
                "parameters": [_ROOM_PARAM],
                "get": {
                    "operationId": "search",
                    "summary": "The room's messages with every word of `q`, newest first, as "
                    "`search`: a bot searches any public room, a site's user only its own.",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "description": f"1-{MAX_SEARCH_QUERY} characters with at least "
                            "one word (letters, digits, _); whole words, any case.",
                            "schema": {
                                "type": "string",
                                "minLength": 1,
                                "maxLength": MAX_SEARCH_QUERY,
                            },
                        },
                        {
                            "name": "before",
                            "in": "query",
                            "description": "The `next` of the page before; absent: the newest.",
                            "schema": {"type": "string", "maxLength": 128},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "description": f"How many ({SEARCH_PAGE} by default).",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SEARCH_PAGE},
                        },
                    ],
                    "responses": {
                        "200": _page(
                            "The page; `next` is the `before` of the next one, `null` on the last.",
                            "next",
                            {"type": ["string", "null"]},
                        ),
                        **_errors(400, 401, 403, 404, 503),
                    },
                },
            },
            "/rooms/{room}/read-marker": {
                "parameters": [_ROOM_PARAM],
                "put": {
                    "operationId": "markRead",
                    "summary": "Move a site's user's read marker forward, as `mark-read` (its "
                    "connections receive `read-marker`). A bot has none: `forbidden`.",
                    "requestBody": _body(
                        ["seq"],
                        {
                            "seq": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": MAX_SEQ,
                                "description": "The last sequence number read.",
                            }
                        },
                    ),
                    "responses": {
                        "200": _answer("The marker as it stands now.", _ref("ReadState")),
                        **_errors(400, 401, 403, 404, 503),
                    },
                },
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "The OpenAPI document.",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }
