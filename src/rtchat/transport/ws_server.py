"""The plain-WebSocket protocol `rtchat.v1` on the engine's endpoint (`ws_protocol.py`).

Thin like the Socket.IO side: parse a request, run its operation (`operations.py`, the
same ones Socket.IO events run), write the one reply. A connection's requests run in
order, messages overlapping as on Socket.IO (`Inbox`), so a `/ws` client's messages are
stored in the order it sent them.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import Any

import orjson

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import ConnectionId
from rtchat.engine.addresses import address_key
from rtchat.engine.plain_ws import WsConn, WsEndpoint
from rtchat.engine.timers import DeadlineQueue
from rtchat.engine.websocket import TEXT, frame
from rtchat.transport import events
from rtchat.transport.operations import Answer, Operations
from rtchat.transport.ws_protocol import (
    AUTH_FAILED,
    HELLO,
    HELLO_TIMEOUT,
    MAX_ID_LENGTH,
    RATE_LIMIT_STRIKES,
    RATE_LIMITED,
)

RequestId = int | str | None


def push_frame(event: bytes) -> bytes:
    """An encoded event, `["name",payload]`, as the push `{"event":"name","data":payload}`
    in one text frame. Event names are kebab-case, so the name's string ends at the first
    `",`."""
    end = event.index(b'",', 2) + 1
    return frame(TEXT, b'{"event":' + event[1:end] + b',"data":' + event[end + 1 : -1] + b"}")


class WsDelivery:
    """The `/ws` side of `Deliveries`: each event framed once, for every member."""

    def __init__(self, endpoint: WsEndpoint) -> None:
        self._endpoint = endpoint

    def subscribe(self, conn: ConnectionId, room: str) -> None:
        self._endpoint.enter_room(conn, room)

    def unsubscribe(self, conn: ConnectionId, room: str) -> None:
        self._endpoint.leave_room(conn, room)

    def to_room(
        self, room: str, event: bytes, exclude: Collection[ConnectionId], later: bool
    ) -> int:
        endpoint = self._endpoint
        if not endpoint.has_members(room):
            return 0
        return endpoint.to_room(room, push_frame(event), exclude, later=later)

    def to_connection(self, conn: ConnectionId, event: bytes) -> None:
        found = self._endpoint.conns.get(conn)
        if found is not None:
            found.send_frame(push_frame(event))
            self._endpoint.delivered += 1

    def close(self, conn: ConnectionId, reason: ChatError) -> None:
        # The close frame's reason is the error's code (e.g. a token that expired).
        found = self._endpoint.conns.get(conn)
        if found is not None:
            found.close(AUTH_FAILED, str(reason.code))


class WsHandlers:
    """Implements the endpoint's `WsApp`."""

    def __init__(
        self, endpoint: WsEndpoint, operations: Operations, *, hello_timeout: float = HELLO_TIMEOUT
    ) -> None:
        self._ops = operations
        self._hello_seen: set[str] = set()  # said hello (signing in, or signed in)
        self._signed_in: set[str] = set()  # until their disconnect has run
        self._strikes: dict[str, int] = {}  # `rate_limited` answers in a row
        self._hello_due = DeadlineQueue[WsConn](hello_timeout, self._no_hello)
        endpoint.serve(self)

    def opened(self, conn: WsConn) -> None:
        self._hello_due.add(conn)

    def closed(self, conn: WsConn, code: int) -> None:
        self._hello_due.remove(conn)
        self._hello_seen.discard(conn.id)
        self._strikes.pop(conn.id, None)
        # Behind the requests that arrived before the close, which are still answered
        # (to nobody) and, for messages, stored: as on Socket.IO.
        conn.enqueue(partial(self._gone, conn))

    def received(self, conn: WsConn, text: str) -> None:
        try:
            request = orjson.loads(text)
        except orjson.JSONDecodeError:
            _refuse(conn, None, "A request is one JSON object; this is not JSON.")
            return
        if not isinstance(request, dict):
            _refuse(conn, None, "A request is a JSON object: {id, op, data}.")
            return
        rid = request.get("id")
        if not _valid_id(rid):
            _refuse(
                conn,
                None,
                f"A request needs an `id`: an integer or a string of 1-{MAX_ID_LENGTH}.",
            )
            return
        op = request.get("op")
        if not isinstance(op, str):
            _refuse(conn, rid, "A request needs an `op`: the name of an operation.")
            return
        args = [request["data"]] if "data" in request else []
        if op == HELLO:
            if conn.id in self._hello_seen:
                _refuse(conn, rid, "This connection said hello already.")
                return
            self._hello_seen.add(conn.id)
            self._hello_due.remove(conn)
            conn.enqueue(partial(self._hello, conn, rid, args))
        elif conn.id not in self._hello_seen:
            conn.close(AUTH_FAILED, f"send {HELLO} first")
        else:
            overlap = op == events.SEND_MESSAGE
            conn.enqueue(partial(self._request, conn, rid, op, args), overlap=overlap)

    async def _hello(self, conn: WsConn, rid: RequestId, args: list[Any]) -> None:
        if not conn.open:
            return
        auth = args[0] if args else None
        if auth is not None and not isinstance(auth, dict):
            _refuse(conn, rid, "Hello takes an object: {token?, username?, guest?}.")
            conn.close(AUTH_FAILED, "bad hello")
            return
        conn_id = ConnectionId(conn.id)
        try:
            await self._ops.connect(conn_id, auth, address_key(conn.peer))
        except ChatError as error:
            _reply(conn, rid, {"ok": False, "error": error.to_wire()})
            conn.close(AUTH_FAILED, error.code)
            return
        self._signed_in.add(conn.id)  # from here `_gone` signs it out, whenever it closes
        if auth is not None and auth.get("username") is not None:
            join = {"username": auth["username"], "guest": auth.get("guest")}
            answer = await self._ops.answer(conn_id, events.USER_JOINED, [join])
        else:
            answer = await self._ops.answer(conn_id, events.SESSION, [])
        data = answer.get("data")
        if isinstance(data, dict):
            data["connectionId"] = conn.id
        _reply(conn, rid, answer)

    async def _request(self, conn: WsConn, rid: RequestId, op: str, args: list[Any]) -> None:
        if conn.id not in self._signed_in:
            return  # its hello was refused: the connection is closing
        answer = await self._ops.answer(ConnectionId(conn.id), op, args)
        _reply(conn, rid, answer)
        if not conn.open:
            return
        error = answer.get("error")
        if isinstance(error, dict) and error.get("code") == ErrorCode.RATE_LIMITED:
            strikes = self._strikes.get(conn.id, 0) + 1
            self._strikes[conn.id] = strikes
            if strikes >= RATE_LIMIT_STRIKES:
                conn.close(RATE_LIMITED, "rate limit")
        else:
            self._strikes.pop(conn.id, None)

    async def _gone(self, conn: WsConn) -> None:
        if conn.id in self._signed_in:
            self._signed_in.discard(conn.id)
            await self._ops.disconnect(ConnectionId(conn.id))

    def _no_hello(self, conn: WsConn) -> None:
        if conn.open and conn.id not in self._hello_seen:
            conn.close(AUTH_FAILED, "no hello in time")


def _valid_id(rid: object) -> bool:
    if isinstance(rid, bool):
        return False
    if isinstance(rid, int):
        return True
    return isinstance(rid, str) and 0 < len(rid) <= MAX_ID_LENGTH


def _reply(conn: WsConn, rid: RequestId, answer: Answer) -> None:
    conn.send_text(orjson.dumps({"id": rid, **answer}))


def _refuse(conn: WsConn, rid: RequestId, message: str) -> None:
    error = ChatError(ErrorCode.INVALID_PAYLOAD, message).to_wire()
    _reply(conn, rid, {"ok": False, "error": error})
