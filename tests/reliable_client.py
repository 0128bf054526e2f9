"""A chat client that does what rtchat's browser client does to lose nothing and show
nothing twice: a token across reconnects, `sync` from the last sequence number seen in
each room, and an outbox resent with the same client ids until acknowledged.

python-socketio runs event handlers as tasks of its own, so an `assert` there would only
be logged. Everything the handlers and the resume task see is recorded instead (every
live delivery, every message a sync answered, every problem), for the test body to
assert on: `assert client.problems == []`.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import socketio

WAIT = 10.0
# A call that fails because the connection went away is retried after the reconnect; a
# call that fails on a connection that stayed up is a problem.
_INTERRUPTED = (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError)


@dataclass
class ReliableClient:
    url: str
    name: str
    token: str | None = None
    transports: list[str] | None = None
    # room -> seq -> message: keyed by seq, so the client shows a duplicate once. The
    # lists below keep every arrival, so a test can count what the server sent twice.
    seen: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)  # live `receive-message`
    live_on: list[int] = field(default_factory=list)  # the connection each one came on
    synced_messages: list[dict[str, Any]] = field(default_factory=list)  # from `sync` answers
    problems: list[str] = field(default_factory=list)
    outbox: dict[str, tuple[str, str]] = field(default_factory=dict)  # clientId -> (room, text)
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    sio: socketio.AsyncClient = field(init=False)
    _connections: int = 0  # connects so far: a call that spans one was interrupted
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)
    # One sender at a time, oldest first: a new message sent while a reconnect resends the
    # outbox would otherwise overtake the older ones it resends.
    _sending: asyncio.Lock = field(default_factory=asyncio.Lock)

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1
        )
        self.sio.on("receive-message", self._on_message)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    async def start(self) -> None:
        await self.sio.connect(
            self.url,
            auth=lambda: {"token": self.token} if self.token else {},
            transports=self.transports,
            wait_timeout=WAIT,
        )
        await asyncio.wait_for(self.synced.wait(), WAIT)

    async def stop(self) -> None:
        await self.sio.disconnect()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def messages(self, room: str = "general") -> list[dict[str, Any]]:
        return [self.seen[room][seq] for seq in sorted(self.seen.get(room, {}))]

    def last_seq(self, room: str) -> int:
        return max(self.seen.get(room, {0: None}))

    def synced_to(self, room: str) -> int:
        """The last seq before the first hole: where a sync must start. Live messages that
        arrive between a reconnect and its sync can be ahead of a hole, so the highest seq
        seen is not it (the browser client fills such holes the same way)."""
        held = self.seen.get(room, {})
        seq = min(held, default=1) - 1
        while seq + 1 in held:
            seq += 1
        return seq

    def arrivals(self, message_id: str) -> int:
        """How often the server handed this client the message: live plus by sync."""
        return sum(m["id"] == message_id for m in (*self.deliveries, *self.synced_messages))

    async def send(self, text: str, room: str = "general") -> None:
        """Queue a message; it goes out now if connected, else after the next reconnect."""
        client_id = uuid.uuid4().hex
        self.outbox[client_id] = (room, text)
        if self.sio.connected and self.synced.is_set():
            await self._flush()

    async def _on_connect(self) -> None:
        # Runs inside the client's event dispatch: do the work in a task, kept here so
        # that it is neither collected early nor left running after `stop`.
        self._connections += 1
        task = asyncio.get_running_loop().create_task(self._resume(self._connections))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _on_disconnect(self, *_: Any) -> None:
        self.synced.clear()

    async def _resume(self, connection: int) -> None:
        try:
            await self._resume_on(connection)
        except _INTERRUPTED as error:
            if self._connections == connection and self.sio.connected:
                self.problems.append(f"resume failed on a live connection: {error!r}")
        except Exception as error:
            self.problems.append(f"resume failed: {error!r}")

    async def _resume_on(self, connection: int) -> None:
        session = await self.sio.call("session", timeout=WAIT)
        if session["data"]["user"] is None:
            answer = await self.sio.call("user-joined", self.name, timeout=WAIT)
            if not answer["ok"]:
                self.problems.append(f"user-joined refused: {answer}")
                return
            self.token = answer["data"]["token"]
            rooms = answer["data"]["rooms"]
        else:
            rooms = session["data"]["rooms"]
        positions = {room["name"]: self.synced_to(room["name"]) for room in rooms}
        while positions:
            answer = await self.sio.call("sync", {"rooms": positions}, timeout=WAIT)
            if not answer["ok"]:
                self.problems.append(f"sync refused: {answer}")
                return
            next_positions = {}
            for room, page in answer["data"]["rooms"].items():
                self.synced_messages.extend(page["messages"])
                for message in page["messages"]:
                    self._keep(message)
                if page["hasMore"]:
                    next_positions[room] = self.synced_to(room)
            positions = next_positions
        if self._connections != connection:
            return  # a newer connection resumes on its own
        self.synced.set()
        await self._flush()

    async def _flush(self) -> None:
        """Send the outbox in order, one at a time; stop at the first that gets no answer."""
        async with self._sending:
            for client_id in list(self.outbox):
                if client_id in self.outbox and not await self._flush_one(client_id):
                    return

    async def _flush_one(self, client_id: str) -> bool:
        room, text = self.outbox[client_id]
        try:
            answer = await self.sio.call(
                "send-message", {"room": room, "text": text, "clientId": client_id}, timeout=2
            )
        except _INTERRUPTED:
            return False  # still in the outbox: resent after the next reconnect
        # Answered: stored, or refused, which the test sees among the problems.
        self.outbox.pop(client_id, None)
        if answer["ok"]:
            self._keep(answer["data"])
        else:
            self.problems.append(f"send-message {text!r} refused: {answer}")
        return True

    async def _on_message(self, message: dict[str, Any]) -> None:
        self.deliveries.append(message)
        self.live_on.append(self._connections)
        self._keep(message)

    def live_per_connection(self, room: str = "general") -> list[list[int]]:
        """The seqs of `room` delivered live on each connection, in arrival order."""
        out: dict[int, list[int]] = {}
        for message, connection in zip(self.deliveries, self.live_on, strict=True):
            if message["room"] == room:
                out.setdefault(connection, []).append(message["seq"])
        return list(out.values())

    def _keep(self, message: dict[str, Any]) -> None:
        room = self.seen.setdefault(message["room"], {})
        known = room.get(message["seq"])
        if known is not None and known["id"] != message["id"]:
            self.problems.append(f"two messages at seq {message['seq']}: {known} and {message}")
        room[message["seq"]] = message
