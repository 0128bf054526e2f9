"""Fan-out through Redis pub/sub, room-aware: a node subscribes only to the channels of
the rooms and users it has connections for, so a message crosses Redis once per node
that needs it — never to every node, as one shared channel would.

Two connections: one subscribed (it may send nothing but (UN)SUBSCRIBE and PING), one
for PUBLISH. Publications made during a loop iteration leave in one write. While the
publisher link is down they wait (up to `MAX_UNSENT` bytes) and leave when it is back;
beyond that they are dropped, which costs nothing but latency: they are in the store,
and a receiving node reads what its sequence numbers say it missed. The links reconnect
by themselves with a growing delay; once every channel is subscribed again, the
receiver's `resumed` runs so the relay reads from the store what came meanwhile. A PING
every `PING_EVERY` seconds on each link finds one that went silent without closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import hiredis

from rtchat.fanout import envelope
from rtchat.fanout.resp import Reply, RespConnection, command, connect
from rtchat.ports import FanoutReceiver
from rtchat.redislink import RedisAddress

log = logging.getLogger(__name__)

PING_EVERY = 5.0
RETRY_FIRST, RETRY_MAX = 0.1, 2.0
SUBSCRIBE_WAIT = 2.0  # at most this long for a subscription to be confirmed
MAX_UNSENT = 8 * 1024 * 1024  # publications waiting for a slow Redis beyond this are dropped
_SUBSCRIBE_BATCH = 500


class RedisFanout:
    def __init__(self, address: RedisAddress, prefix: str, node: str) -> None:
        self._address = address
        self._prefix = prefix.encode() + b":"
        self._origin = node.encode()
        self._receiver: FanoutReceiver | None = None
        self._channels: set[bytes] = set()  # full names, prefix included
        self._confirm: dict[bytes, list[asyncio.Future[None]]] = {}
        self._sub: RespConnection | None = None
        self._pub: RespConnection | None = None
        self._sub_ready = False  # every channel is subscribed on the current connection
        self._resubscribing: set[bytes] = set()
        self._outbox: list[bytes] = []
        self._outbox_bytes = 0
        self._flush_handle: asyncio.Handle | None = None
        self._keeper: asyncio.Task[None] | None = None
        self._pong_due = False
        self._pub_pong_due = False
        self._pub_up = False
        self._closed = False
        self._wake = asyncio.Event()

    # --- life cycle ----------------------------------------------------------------------

    async def start(self, receiver: FanoutReceiver) -> None:
        """Connect both links; raises `ValueError` if Redis cannot be reached now."""
        self._receiver = receiver
        try:
            self._sub = await connect(self._address, self._on_sub_reply, self._sub_lost)
            self._pub = await connect(self._address, self._on_pub_reply, self._pub_lost)
        except (OSError, TimeoutError) as error:
            self._close_links()
            reason = str(error) or "no answer in time"
            raise ValueError(f"Cannot reach Redis at {self._address}: {reason}.") from None
        self._sub_ready = self._pub_up = True
        self._keeper = asyncio.create_task(self._keep())

    async def close(self) -> None:
        self._closed = True
        self._wake.set()
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
        self._flush()
        self._close_links()
        for waiters in self._confirm.values():
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)
        self._confirm.clear()

    def healthy(self) -> bool:
        return (
            self._sub is not None
            and self._sub.open
            and self._sub_ready
            and self._pub is not None
            and self._pub.open
        )

    # --- the port ------------------------------------------------------------------------

    async def subscribe(self, channel: str) -> None:
        name = self._prefix + channel.encode()
        if name in self._channels:
            return
        self._channels.add(name)
        sub = self._sub
        if sub is None or not sub.open:
            return  # the reconnect subscribes it, then `resumed` follows
        sub.write(command(b"SUBSCRIBE", name))
        if not self._sub_ready:
            self._resubscribing.add(name)  # part of the reconnect: `resumed` follows
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._confirm.setdefault(name, []).append(waiter)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), SUBSCRIBE_WAIT)

    def unsubscribe(self, channel: str) -> None:
        name = self._prefix + channel.encode()
        if name not in self._channels:
            return
        self._channels.discard(name)
        sub = self._sub
        if sub is not None and sub.open:
            sub.write(command(b"UNSUBSCRIBE", name))
        if name in self._resubscribing:
            self._resubscribing.discard(name)
            if not self._resubscribing:
                self._back()

    def publish(self, channel: str, data: bytes) -> None:
        self._outbox.append(command(b"PUBLISH", self._prefix + channel.encode(), data))
        self._outbox_bytes += len(self._outbox[-1])
        if self._outbox_bytes > MAX_UNSENT:
            self._drop_oldest()
        if self._flush_handle is None and self._pub is not None and self._pub.open:
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    # --- the links -----------------------------------------------------------------------

    def _flush(self) -> None:
        # While the publisher link is down (or Redis reads too slowly), publications wait
        # here, up to MAX_UNSENT bytes, and leave when it is back: a short outage loses
        # nothing. Past the bound the oldest go; the receivers read those from the store.
        self._flush_handle = None
        pub = self._pub
        if not self._outbox or pub is None or not pub.open or pub.buffered() > MAX_UNSENT:
            return
        outbox, self._outbox, self._outbox_bytes = self._outbox, [], 0
        pub.write(b"".join(outbox))

    def _drop_oldest(self) -> None:
        outbox, drop, freed = self._outbox, 0, 0
        while drop < len(outbox) and self._outbox_bytes - freed > MAX_UNSENT // 2:
            freed += len(outbox[drop])
            drop += 1
        del outbox[:drop]
        self._outbox_bytes -= freed

    def _on_sub_reply(self, reply: Reply) -> None:
        if isinstance(reply, list) and reply:
            kind = reply[0]
            if kind == b"message" and len(reply) == 3:
                channel, data = reply[1], reply[2]
                receiver = self._receiver
                if receiver is not None and envelope.origin_of(data) != self._origin:
                    receiver.received(channel[len(self._prefix) :].decode(), data)
                return
            if kind == b"subscribe":
                self._confirmed(reply[1])
                return
            if kind == b"pong":
                self._pong_due = False
                return
            if kind == b"unsubscribe":
                return
        if reply == b"PONG":  # a PING before the first subscription has the plain answer
            self._pong_due = False
        elif isinstance(reply, hiredis.ReplyError):
            log.error("Redis refused a subscription command: %s", reply)

    def _on_pub_reply(self, reply: Reply) -> None:
        if isinstance(reply, hiredis.ReplyError):
            log.error("Redis refused a publication: %s", reply)
        elif reply == b"PONG":
            self._pub_pong_due = False
        elif self._outbox and self._flush_handle is None:
            # Redis is reading again: what waited behind a full buffer can go.
            self._flush_handle = asyncio.get_running_loop().call_soon(self._flush)

    def _confirmed(self, name: bytes) -> None:
        for waiter in self._confirm.pop(name, ()):
            if not waiter.done():
                waiter.set_result(None)
        if self._resubscribing:
            self._resubscribing.discard(name)
            if not self._resubscribing:
                self._back()

    def _sub_lost(self) -> None:
        if not self._closed and self._sub_ready:
            log.warning("lost the Redis subscriber link to %s", self._address)
        self._sub_ready = False
        self._wake.set()

    def _pub_lost(self) -> None:
        if not self._closed and self._pub_up:
            log.warning("lost the Redis publisher link to %s", self._address)
        self._pub_up = False
        self._wake.set()

    def _close_links(self) -> None:
        for link in (self._sub, self._pub):
            if link is not None:
                link.close()

    def _back(self) -> None:
        self._sub_ready = True
        log.info("Redis links to %s are back", self._address)
        if self._receiver is not None:
            self._receiver.resumed()

    async def _keep(self) -> None:
        """Reconnect what was lost; PING the subscriber to find a silent link."""
        while not self._closed:
            self._wake.clear()
            if not self._links_open():
                await self._reconnect()
                continue
            if self._pong_due or self._pub_pong_due:
                log.warning("Redis did not answer a PING in %s s; reconnecting", PING_EVERY)
                self._pong_due = self._pub_pong_due = False
                self._close_links()
                continue
            self._pong_due = self._pub_pong_due = True
            assert self._sub is not None
            assert self._pub is not None
            self._sub.write(command(b"PING"))
            self._pub.write(command(b"PING"))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), PING_EVERY)

    def _links_open(self) -> bool:
        return bool(self._sub and self._sub.open and self._pub and self._pub.open)

    async def _reconnect(self) -> None:
        delay = RETRY_FIRST
        while not self._closed:
            try:
                if self._pub is None or not self._pub.open:
                    self._pub = await connect(self._address, self._on_pub_reply, self._pub_lost)
                    self._pub_up = True
                    self._flush()
                if self._sub is None or not self._sub.open:
                    self._sub = await connect(self._address, self._on_sub_reply, self._sub_lost)
                    self._resubscribe(self._sub)
                elif not self._resubscribing and not self._sub_ready:
                    self._back()
                return
            except (OSError, TimeoutError) as error:
                log.debug("Redis at %s is still away: %s", self._address, error)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    def _resubscribe(self, sub: RespConnection) -> None:
        channels = sorted(self._channels)
        if not channels:
            self._back()
            return
        self._resubscribing = set(channels)
        for start in range(0, len(channels), _SUBSCRIBE_BATCH):
            sub.write(command(b"SUBSCRIBE", *channels[start : start + _SUBSCRIBE_BATCH]))
