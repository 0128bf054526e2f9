"""Fan-out between nodes that live in one process: what a single node uses (it has no one
to talk to, so publishing costs a dictionary lookup), and how tests run several nodes
side by side without Redis."""

from __future__ import annotations

import asyncio

from rtchat.ports import FanoutReceiver


class MemoryFanoutHub:
    """The bus the nodes of one process share."""

    def __init__(self) -> None:
        self.subscribers: dict[str, set[MemoryFanout]] = {}


class MemoryFanout:
    """One node's end of a `MemoryFanoutHub`; the publisher never receives its own."""

    def __init__(self, hub: MemoryFanoutHub | None = None) -> None:
        self._hub = hub if hub is not None else MemoryFanoutHub()
        self._receiver: FanoutReceiver | None = None
        self._channels: set[str] = set()

    async def start(self, receiver: FanoutReceiver) -> None:
        self._receiver = receiver

    async def close(self) -> None:
        for channel in list(self._channels):
            self.unsubscribe(channel)
        self._receiver = None

    async def subscribe(self, channel: str) -> None:
        self._channels.add(channel)
        self._hub.subscribers.setdefault(channel, set()).add(self)

    def unsubscribe(self, channel: str) -> None:
        self._channels.discard(channel)
        nodes = self._hub.subscribers.get(channel)
        if nodes is not None:
            nodes.discard(self)
            if not nodes:
                del self._hub.subscribers[channel]

    def publish(self, channel: str, data: bytes) -> None:
        nodes = self._hub.subscribers.get(channel)
        if not nodes:
            return
        loop = asyncio.get_running_loop()
        for node in nodes:
            if node is not self:
                # Later, as a network would: never inside the publisher's call.
                loop.call_soon(node._deliver, channel, data)

    def healthy(self) -> bool:
        return True

    def _deliver(self, channel: str, data: bytes) -> None:
        if self._receiver is not None and channel in self._channels:
            self._receiver.received(channel, data)
