"""A chat client that does what rtchat's browser client does to lose nothing and show
nothing twice: a token across reconnects, `sync` from the last sequence number seen in
each room, and an outbox resent with the same client ids until acknowledged."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from typing import Any

import socketio

WAIT = 10.0


@dataclass
class ReliableClient:
    url: str
    name: str
    token: str | None = None
    # room -> seq -> message: keyed by seq, so a duplicate delivery cannot show twice.
    seen: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    outbox: dict[str, tuple[str, str]] = field(default_factory=dict)  # clientId -> (room, text)
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    sio: socketio.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.sio = socketio.AsyncClient(
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1
        )
        self.sio.on("receive-message", self._on_message)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)

    async def start(self) -> None:
        await self.sio.connect(
            self.url, auth=lambda: {"token": self.token} if self.token else {}, wait_timeout=WAIT
        )
        await asyncio.wait_for(self.synced.wait(), WAIT)

    async def stop(self) -> None:
        await self.sio.disconnect()

    def messages(self, room: str = "general") -> list[dict[str, Any]]:
        return [self.seen[room][seq] for seq in sorted(self.seen.get(room, {}))]

    def last_seq(self, room: str) -> int:
        return max(self.seen.get(room, {0: None}))

    async def send(self, text: str, room: str = "general") -> None:
        """Queue a message; it goes out now if connected, else after the next reconnect."""
        client_id = uuid.uuid4().hex
        self.outbox[client_id] = (room, text)
        if self.sio.connected and self.synced.is_set():
            await self._flush_one(client_id)

    async def _on_connect(self) -> None:
        # Runs inside the client's event dispatch: do the work in a task.
        asyncio.get_running_loop().create_task(self._resume())

    async def _on_disconnect(self, *_: Any) -> None:
        self.synced.clear()

    async def _resume(self) -> None:
        session = await self.sio.call("session", timeout=WAIT)
        if session["data"]["user"] is None:
            answer = await self.sio.call("user-joined", self.name, timeout=WAIT)
            assert answer["ok"], answer
            self.token = answer["data"]["token"]
            rooms = answer["data"]["rooms"]
        else:
            rooms = session["data"]["rooms"]
        positions = {room["name"]: self.last_seq(room["name"]) for room in rooms}
        while positions:
            answer = await self.sio.call("sync", {"rooms": positions}, timeout=WAIT)
            assert answer["ok"], answer
            next_positions = {}
            for room, page in answer["data"]["rooms"].items():
                for message in page["messages"]:
                    self._keep(message)
                if page["hasMore"]:
                    next_positions[room] = self.last_seq(room)
            positions = next_positions
        self.synced.set()
        for client_id in list(self.outbox):
            await self._flush_one(client_id)

    async def _flush_one(self, client_id: str) -> None:
        room, text = self.outbox[client_id]
        try:
            answer = await self.sio.call(
                "send-message", {"room": room, "text": text, "clientId": client_id}, timeout=2
            )
        except (socketio.exceptions.TimeoutError, socketio.exceptions.BadNamespaceError):
            return  # still in the outbox: resent after the next reconnect
        if answer["ok"]:
            self.outbox.pop(client_id, None)
            self._keep(answer["data"])

    async def _on_message(self, message: dict[str, Any]) -> None:
        self.deliveries.append(message)
        self._keep(message)

    def _keep(self, message: dict[str, Any]) -> None:
        room = self.seen.setdefault(message["room"], {})
        known = room.get(message["seq"])
        assert known is None or known["id"] == message["id"], "two messages at one seq"
        room[message["seq"]] = message
