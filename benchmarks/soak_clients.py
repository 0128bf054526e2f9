"""The soak's chat clients: python-socketio ones and raw WebSocket ones that speak Engine.IO
and Socket.IO by hand, both driven by one behaviour (`SoakClient`).

A client joins, posts in several rooms with a clientId per message, types, leaves and
joins rooms, and reconnects with its token (gracefully, by cutting its TCP connection,
or right after sending a message whose ack it then never hears), each time syncing every
room from the last seq it holds and resending what was not acknowledged. Everything it
is handed goes through the `Ledger`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import socketio
import websockets

from soak_ledger import Ledger, Stream

CALL_TIMEOUT = 10.0
CONNECT_TIMEOUT = 10.0
EventHandler = Callable[[str, Any], None]


class Interrupted(Exception):
    """The connection went away (or never came) while a request waited for its answer."""


class SioTransport:
    """python-socketio's client: long-polling first, then an upgrade, or WebSocket only."""

    def __init__(self, url: str, on_event: EventHandler, transports: list[str] | None) -> None:
        self._url = url
        self._transports = transports
        self._sio = socketio.AsyncClient(reconnection=False)
        self._sio.on("*", on_event)

    async def open(self, auth: dict[str, str] | None) -> None:
        try:
            await self._sio.connect(
                self._url, auth=auth, transports=self._transports, wait_timeout=CONNECT_TIMEOUT
            )
        except socketio.exceptions.ConnectionError as error:
            raise Interrupted(str(error)) from error

    async def call(self, event: str, payload: Any) -> Any:
        try:
            return await self._sio.call(event, payload, timeout=CALL_TIMEOUT)
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError) as e:
            raise Interrupted(repr(e)) from e

    async def emit(self, event: str, payload: Any) -> None:
        with contextlib.suppress(socketio.exceptions.BadNamespaceError):
            await self._sio.emit(event, payload)

    async def close(self, *, abrupt: bool = False) -> None:
        await self._sio.disconnect()


class RawTransport:
    """Engine.IO v4 and Socket.IO v5 over a plain WebSocket, as a minimal client would."""

    def __init__(self, url: str, on_event: EventHandler) -> None:
        self._url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self._on_event = on_event
        self._ws: websockets.ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._ack_ids = itertools.count()
        self._connected: asyncio.Future[None] | None = None
        self._lost = False  # the reader ended: every request fails at once from now on

    async def open(self, auth: dict[str, str] | None) -> None:
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                self._ws = await websockets.connect(self._url, max_size=None)
                opened = str(await self._ws.recv())
                if not opened.startswith("0"):
                    raise Interrupted(f"no Engine.IO open packet: {opened[:40]!r}")
                self._connected = asyncio.get_running_loop().create_future()
                self._reader = asyncio.create_task(self._read(self._ws))
                await self._ws.send("40" + (json.dumps(auth) if auth else ""))
                await self._connected
        except (OSError, TimeoutError, websockets.WebSocketException) as error:
            raise Interrupted(repr(error)) from error

    async def call(self, event: str, payload: Any) -> Any:
        if self._lost:
            raise Interrupted("connection lost")
        ack_id = next(self._ack_ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        try:
            await self._send(f"42{ack_id}" + json.dumps([event, payload]))
            async with asyncio.timeout(CALL_TIMEOUT):
                return await future
        except TimeoutError as error:
            raise Interrupted("no answer") from error
        finally:
            self._acks.pop(ack_id, None)

    async def emit(self, event: str, payload: Any) -> None:
        with contextlib.suppress(Interrupted):
            await self._send("42" + json.dumps([event, payload]))

    async def close(self, *, abrupt: bool = False) -> None:
        if self._ws is not None:
            if abrupt:
                self._ws.transport.abort()  # no close frame, no Socket.IO goodbye: a cut
            else:
                with contextlib.suppress(websockets.WebSocketException, OSError):
                    await self._ws.send("41")
                    await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        self._fail_waiters("closed")

    async def _send(self, text: str) -> None:
        if self._ws is None:
            raise Interrupted("not connected")
        try:
            await self._ws.send(text)
        except (websockets.WebSocketException, OSError) as error:
            raise Interrupted(repr(error)) from error

    async def _read(self, ws: websockets.ClientConnection) -> None:
        with contextlib.suppress(websockets.WebSocketException, OSError):
            async for frame in ws:
                text = str(frame)
                if text == "2":
                    await ws.send("3")
                elif text.startswith("40"):
                    if self._connected is not None and not self._connected.done():
                        self._connected.set_result(None)
                elif text.startswith("42"):
                    event, *args = json.loads(text[2:])
                    self._on_event(event, args[0] if args else None)
                elif text.startswith("43"):
                    digits = len(text) - len(text[2:].lstrip("0123456789"))
                    future = self._acks.get(int(text[2:digits]))
                    if future is not None and not future.done():
                        future.set_result(json.loads(text[digits:])[0])
                elif text.startswith(("41", "44", "1")):
                    break
        self._lost = True
        self._fail_waiters("connection lost")

    def _fail_waiters(self, why: str) -> None:
        waiters = [*self._acks.values(), *([self._connected] if self._connected else [])]
        for future in waiters:
            if not future.done():
                future.set_exception(Interrupted(why))


@dataclass
class Tally:
    """What the clients did, for the report."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str, n: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + n


@dataclass
class SoakClient:
    name: str
    url: str
    kind: str  # "sio-polling", "sio-websocket" or "raw"
    rooms: tuple[str, ...]  # every room of the soak; the first is `general`
    ledger: Ledger
    tally: Tally
    rng: random.Random
    token: str | None = None
    streams: dict[str, Stream] = field(default_factory=dict)
    outbox: dict[str, tuple[str, str]] = field(default_factory=dict)  # clientId -> (room, text)
    conn: int = 0
    _early: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _uncertain: set[str] = field(default_factory=set)  # joined or left, answer never came
    _transport: SioTransport | RawTransport | None = None
    _texts: itertools.count[int] = field(default_factory=itertools.count)

    # --- connections --------------------------------------------------------------------

    async def connect(self) -> bool:
        """Open a connection (with the token once there is one) and catch up; False if the
        server could not be reached or the connection broke while catching up."""
        await self.disconnect(abrupt=True)  # whatever is left of a connection that failed
        self.conn += 1
        conn = self.conn
        self._early = {}
        on_event: EventHandler = lambda event, data: self._on_event(conn, event, data)  # noqa: E731
        if self.kind == "raw":
            self._transport = RawTransport(self.url, on_event)
        else:
            only_ws = ["websocket"] if self.kind == "sio-websocket" else None
            self._transport = SioTransport(self.url, on_event, only_ws)
        try:
            await self._transport.open({"token": self.token} if self.token else None)
            await (self._resume() if self.token else self._first_join())
            await self._flush()
        except Interrupted:
            self.tally.add("interrupted")
            await self.disconnect(abrupt=True)
            return False
        self.tally.add("connections")
        return True

    async def disconnect(self, *, abrupt: bool = False) -> None:
        if self._transport is not None:
            await self._transport.close(abrupt=abrupt)
            self._transport = None

    async def call(self, event: str, payload: Any) -> Any:
        assert self._transport is not None
        return await self._transport.call(event, payload)

    async def _first_join(self) -> None:
        answer = await self.call("user-joined", self.name)
        if not answer["ok"]:
            self.ledger.violation(f"{self.name}: user-joined refused: {answer}")
            raise Interrupted("not joined")
        self.token = answer["data"]["token"]
        for info in answer["data"]["rooms"]:
            self._start_stream(info["name"], info["lastSeq"])

    async def _resume(self) -> None:
        answer = await self.call("session", None)
        user = answer["data"]["user"] if answer["ok"] else None
        if user is None or user["username"] != self.name:
            self.ledger.violation(f"{self.name}: the token no longer names it: {answer}")
            raise Interrupted("token refused")
        last = {info["name"]: info["lastSeq"] for info in answer["data"]["rooms"]}
        for room in self._uncertain:  # the server's word settles what the client never heard
            stream = self.streams.get(room)
            if room in last and stream is None:
                self._start_stream(room, last[room])
            elif stream is not None:
                stream.member = room in last
                stream.caught_up_on = -1
        self._uncertain.clear()
        members = {room for room, stream in self.streams.items() if stream.member}
        if set(last) != members:
            self.ledger.violation(f"{self.name}: rooms {sorted(last)}, expected {sorted(members)}")
        await self._sync({room: last[room] for room in members & set(last)})

    async def _sync(self, last: dict[str, int]) -> None:
        """Sync every room in `last` (room -> its last seq as the server said) until caught up."""
        positions = {room: self.streams[room].top for room in last}
        while positions:
            answer = await self.call("sync", {"rooms": positions})
            if not answer["ok"]:
                self.ledger.violation(f"{self.name}: sync refused: {answer}")
                raise Interrupted("sync refused")
            pages = answer["data"]["rooms"]
            again = {}
            for room, position in positions.items():
                page = pages.get(room, {"messages": [], "hasMore": False})
                stream = self.streams[room]
                self.ledger.synced(self.name, stream, self.conn, position, page["messages"])
                if page["hasMore"]:
                    again[room] = stream.top
                else:
                    self.ledger.caught_up(self.name, room, stream, self.conn, last[room])
            positions = again

    def _start_stream(self, room: str, last_seq: int) -> None:
        stream = Stream(start=last_seq, caught_up_on=self.conn)
        self.streams[room] = stream
        for message in self._early.pop(room, []):
            self.ledger.live(self.name, stream, self.conn, message)

    def _on_event(self, conn: int, event: str, data: Any) -> None:
        if conn != self.conn:
            return  # a late event of a connection this client already left behind
        if event == "receive-message":
            self.tally.add("received")
            stream = self.streams.get(data["room"])
            if stream is None:
                # Before the answer that tells where this client's stream starts.
                self._early.setdefault(data["room"], []).append(data)
            else:
                self.ledger.live(self.name, stream, conn, data)
        elif event == "user-typing":
            self.tally.add("typing_seen")
        elif event == "error":
            self.ledger.violation(f"{self.name}: error event {data}")

    # --- what a person does -------------------------------------------------------------

    async def act(self) -> bool:
        """One action; False when the connection broke (the caller reconnects)."""
        roll = self.rng.random()
        try:
            if roll < 0.55:
                await self._post()
            elif roll < 0.70:
                await self._type()
            elif roll < 0.82:
                await self._move()
            elif roll < 0.92:
                await self.disconnect(abrupt=self.kind == "raw" and self.rng.random() < 0.5)
                self.tally.add("reconnects")
                return False
            elif self.kind == "raw":
                await self._post_and_cut()
                return False
            else:
                await self._post()
        except Interrupted:
            self.tally.add("interrupted")
            return False
        return True

    def _member_rooms(self) -> list[str]:
        return [room for room, stream in self.streams.items() if stream.member]

    async def _post(self) -> None:
        room = self.rng.choice(self._member_rooms())
        client_id = uuid.uuid4().hex
        self.outbox[client_id] = (room, f"{self.name} says {next(self._texts)}")
        await self._flush()

    async def _post_and_cut(self) -> None:
        """Send a message and cut the connection before its ack can arrive: the server may
        or may not have it, and the resend after reconnecting must not post it twice."""
        room = self.rng.choice(self._member_rooms())
        client_id = uuid.uuid4().hex
        self.outbox[client_id] = (room, f"{self.name} says {next(self._texts)}")
        assert self._transport is not None
        payload = {"room": room, "text": self.outbox[client_id][1], "clientId": client_id}
        await self._transport.emit("send-message", payload)
        await self.disconnect(abrupt=True)
        self.tally.add("acks_cut")

    async def _flush(self) -> None:
        for client_id, (room, text) in list(self.outbox.items()):
            answer = await self.call(
                "send-message", {"room": room, "text": text, "clientId": client_id}
            )
            if not answer["ok"]:
                self.ledger.violation(f"{self.name}: send refused: {answer}")
                continue
            self.outbox.pop(client_id)
            self.ledger.ack(self.name, client_id, answer["data"])
            self.tally.add("sent")

    async def _type(self) -> None:
        room = self.rng.choice(self._member_rooms())
        assert self._transport is not None
        await self._transport.emit("typing", {"room": room, "isTyping": True})
        await asyncio.sleep(self.rng.uniform(0.1, 0.5))
        if self._transport is not None:
            await self._transport.emit("typing", {"room": room, "isTyping": False})
        self.tally.add("typed")

    async def _move(self) -> None:
        """Leave an extra room, or join one (syncing what it missed if it was in it before)."""
        room = self.rng.choice(self.rooms[1:])
        stream = self.streams.get(room)
        leaving = stream is not None and stream.member
        if stream is not None:
            # Live messages may come before the answer; after a leave's answer, none may.
            stream.member = True
            stream.caught_up_on = -1
        try:
            answer = await self.call("leave-room" if leaving else "join-room", {"room": room})
        except Interrupted:
            self._uncertain.add(room)
            raise
        if not answer["ok"]:
            self.ledger.violation(f"{self.name}: {'leave' if leaving else 'join'}: {answer}")
            self._uncertain.add(room)
            return
        if leaving:
            assert stream is not None
            stream.member = False
            self.tally.add("left")
            return
        last = answer["data"]["room"]["lastSeq"]
        self.tally.add("joined")
        if stream is None:
            self._start_stream(room, last)
        else:
            await self._sync({room: last})

    async def finish(self, tries: int) -> None:
        """Catch up once more (nothing may be missing), send what is left, and leave."""
        for _ in range(tries):
            if self._transport is not None or await self.connect():
                with contextlib.suppress(Interrupted):
                    await self._resume()
                    await self._flush()
                    break
            await self.disconnect(abrupt=True)
        await self.disconnect()
        if self.outbox:
            self.ledger.violation(f"{self.name}: {len(self.outbox)} messages never acknowledged")
