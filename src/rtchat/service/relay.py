"""How events reach every member of a room, on every node, in order and once.

The use cases hand the relay domain events. It encodes each once (`LocalDelivery.encode`),
writes it to this node's members, and publishes the same bytes to the other nodes through
the fan-out, on the channel of the room (`r:<room>`) or of a user (`u:<user id>`). A node
follows a room's channel only while it has a member of the room connected, and a user's
only while it has one of their connections: a message crosses to a node once, and only to
nodes that need it.

Messages, and the changes made to them (edits, deletes, reactions), carry their room's
sequence number. For every room it follows, the node keeps a
`Sequencer`: what arrives early waits for what comes before it, what arrived already is
dropped, and a gap that does not close within `GAP_WAIT` seconds is read from the store.
The baseline of a room is read from the store once the channel's subscription is in
effect, so nothing falls between the two. When the fan-out's link comes back after an
outage, every followed room is read from the store from its last delivered number.

Commands (`C` envelopes) are for the nodes themselves: a user entered or left a room, a
typing report. The relay applies them here too, so one code path serves every node.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

from rtchat.domain.errors import ChatError
from rtchat.domain.events import MessageChanged, MessagePosted, ServerEvent
from rtchat.domain.models import ConnectionId, LogEntry, Message
from rtchat.domain.sequencer import Sequencer
from rtchat.fanout import envelope
from rtchat.fanout.envelope import Command, EnvelopeError, RoomFrame, UserFrame
from rtchat.ports import Fanout, LocalDelivery, MessageStore
from rtchat.roomsets import RoomSet, with_room, without_room
from rtchat.service.connections import Connections

log = logging.getLogger(__name__)

GAP_WAIT = 0.25
"""Seconds a room's delivery waits for a missing number before reading it from the store.
Publications of two nodes race each other only by the time between their commits and
their publishes, a few milliseconds."""
CATCH_UP_PAGE = 500
MAX_STRIKES = 8

CommandHandler = Callable[[dict[str, Any]], Awaitable[None]]
Held = tuple[bytes, str]  # an encoded event and the user whose connections it skips


class Relay:
    """Implements `FanoutReceiver`; see the module docstring."""

    def __init__(
        self,
        node: str,
        fanout: Fanout,
        delivery: LocalDelivery,
        messages: MessageStore,
        connections: Connections,
    ) -> None:
        self.node = node
        self._origin = node.encode()
        self._fanout = fanout
        self._delivery = delivery
        self._messages = messages
        self._connections = connections
        self._room_members: dict[str, int] = {}  # room -> local connections in it
        self._conn_rooms: dict[ConnectionId, RoomSet] = {}  # see roomsets.py
        self._sequencers: dict[str, Sequencer[Held]] = {}
        self._repairs: dict[str, asyncio.TimerHandle | asyncio.Task[None]] = {}
        self._recheck: set[str] = set()  # rooms to read again once their running repair ends
        self._strikes: dict[str, int] = {}  # repairs in a row that let nothing through
        self._users: set[str] = set()
        self._commands: dict[str, CommandHandler] = {}
        self._resume_hooks: list[Callable[[], Awaitable[None]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        # Commands from other nodes run one at a time, in arrival order: "entered" then
        # "left" must not finish the other way round.
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.encode = delivery.encode
        self.filled = 0
        """Log entries read from the store to fill a gap (or catch up after an outage)."""

    # --- wiring --------------------------------------------------------------------------

    def on_command(self, kind: str, handler: CommandHandler) -> None:
        """Run `handler(body)` for every command `{"t": kind, ...}`, from any node."""
        self._commands[kind] = handler

    def on_resumed(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` after the fan-out's link came back (e.g. to reload memberships)."""
        self._resume_hooks.append(hook)

    async def start(self) -> None:
        await self._fanout.start(self)
        self._worker = asyncio.create_task(self._run_commands())

    async def close(self) -> None:
        for repair in self._repairs.values():
            repair.cancel()
        self._repairs.clear()
        tasks = [*self._tasks, *([self._worker] if self._worker else [])]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=1)
        await self._fanout.close()

    # --- who follows what ----------------------------------------------------------------

    async def enter(self, conn: ConnectionId, room: str) -> None:
        """Make `conn` receive `room`; the node follows the room's channel from its first.
        Idempotent, and a connection that closed already is not entered."""
        if conn not in self._connections.by_id:
            return
        rooms = self._conn_rooms.get(conn, ())
        if room in rooms:
            return
        self._conn_rooms[conn] = with_room(rooms, room)
        self._delivery.subscribe(conn, room)
        count = self._room_members.get(room, 0)
        self._room_members[room] = count + 1
        if count == 0:
            sequencer: Sequencer[Held] = Sequencer()
            self._sequencers[room] = sequencer
            await self._fanout.subscribe(_room_channel(room))
            await self._set_baseline(room, sequencer)

    def leave(self, conn: ConnectionId, room: str) -> None:
        rooms = self._conn_rooms.get(conn)
        if rooms is None or room not in rooms:
            return
        rest = without_room(rooms, room)
        if rest:
            self._conn_rooms[conn] = rest
        else:
            del self._conn_rooms[conn]
        self._delivery.unsubscribe(conn, room)
        count = self._room_members.get(room, 0) - 1
        if count > 0:
            self._room_members[room] = count
            return
        self._room_members.pop(room, None)
        self._sequencers.pop(room, None)
        self._strikes.pop(room, None)
        self._recheck.discard(room)
        repair = self._repairs.pop(room, None)
        if repair is not None:
            repair.cancel()
        self._fanout.unsubscribe(_room_channel(room))

    def forget(self, conn: ConnectionId) -> None:
        """`conn` closed: take it out of every room it was in."""
        for room in list(self._conn_rooms.get(conn, ())):
            self.leave(conn, room)

    async def follow_user(self, user_id: str) -> None:
        """Receive what is sent to `user_id` (returns once that is in effect)."""
        if user_id not in self._users:
            self._users.add(user_id)
            await self._fanout.subscribe(_user_channel(user_id))

    def unfollow_user(self, user_id: str) -> None:
        if user_id in self._users:
            self._users.discard(user_id)
            self._fanout.unsubscribe(_user_channel(user_id))

    # --- sending -------------------------------------------------------------------------

    def message(self, message: Message) -> None:
        """A stored message, to every member of its room on every node, in sequence order."""
        self.entry(message)

    def entry(self, entry: LogEntry) -> None:
        """A stored entry of a room's log (a message, or a change of one), to every member
        of its room on every node, in sequence order."""
        room = entry.room
        event = self._delivery.encode(_event_of(entry))
        sequencer = self._sequencers.get(room)
        if sequencer is not None:
            self._release(room, sequencer, sequencer.offer(entry.seq, (event, "")))
        self._fanout.publish(
            _room_channel(room), envelope.room_frame(self.node, entry.seq, "", event)
        )

    def to_connection(self, conn: ConnectionId, event: ServerEvent) -> None:
        """To one connection of this node."""
        self._delivery.to_connection(conn, self._delivery.encode(event))

    def close_connection(self, conn: ConnectionId, reason: ChatError) -> None:
        """Close one connection of this node, telling its client `reason`."""
        self._delivery.close(conn, reason)

    def to_room(self, room: str, event: ServerEvent, *, exclude_user: str = "") -> None:
        """An event that takes no place in the room's log (typing, joins, presence)."""
        encoded = self._delivery.encode(event)
        self._to_local_room(room, encoded, exclude_user)
        self._fanout.publish(
            _room_channel(room), envelope.room_frame(self.node, 0, exclude_user, encoded)
        )

    def to_user(
        self, user_id: str, event: ServerEvent, *, skip: ConnectionId | None = None
    ) -> None:
        """To every connection of `user_id` on every node, but `skip` (which has its answer)."""
        encoded = self._delivery.encode(event)
        self._to_local_user(user_id, encoded, skip or "")
        self._fanout.publish(
            _user_channel(user_id), envelope.user_frame(self.node, skip or "", encoded)
        )

    async def room_command(self, room: str, body: dict[str, Any], *, here: bool = True) -> None:
        """A command for every node following `room` (this one too, unless `here` is off)."""
        if here:
            await self._apply(body)
        self._fanout.publish(_room_channel(room), envelope.command(self.node, body))

    async def user_command(self, user_id: str, body: dict[str, Any]) -> None:
        """A command for every node holding a connection of `user_id`, this one first."""
        await self._apply(body)
        self._fanout.publish(_user_channel(user_id), envelope.command(self.node, body))

    def to_local_room(self, room: str, event: bytes, exclude_user: str = "") -> None:
        """Write an encoded event to this node's members of `room` only."""
        self._to_local_room(room, event, exclude_user)

    # --- receiving (FanoutReceiver) ------------------------------------------------------

    def received(self, channel: str, data: bytes) -> None:
        if envelope.origin_of(data) == self._origin:
            return  # our own, sent back by Redis: delivered here already
        try:
            parsed = envelope.parse(data)
        except EnvelopeError as error:
            log.warning("dropped a malformed envelope on %s: %s", channel[:80], error)
            return
        if isinstance(parsed, RoomFrame):
            room = channel[2:]
            if parsed.seq == 0:
                self._to_local_room(room, parsed.event, parsed.exclude_user)
                return
            sequencer = self._sequencers.get(room)
            if sequencer is not None:
                held = (parsed.event, parsed.exclude_user)
                self._release(room, sequencer, sequencer.offer(parsed.seq, held))
        elif isinstance(parsed, UserFrame):
            self._to_local_user(channel[2:], parsed.event, parsed.skip)
        elif isinstance(parsed, Command):
            self._inbox.put_nowait(parsed.body)

    def resumed(self) -> None:
        log.info("fan-out link is back: catching up %d rooms", len(self._sequencers))
        for room in list(self._sequencers):
            self._schedule_repair(room, now=True)
        for hook in self._resume_hooks:
            self._spawn(hook())

    # --- in order, once ------------------------------------------------------------------

    def _release(self, room: str, sequencer: Sequencer[Held], ready: list[Held]) -> None:
        for event, exclude_user in ready:
            self._to_local_room(room, event, exclude_user)
        if sequencer.waiting or sequencer.last is None:
            self._schedule_repair(room)

    def _schedule_repair(self, room: str, *, now: bool = False) -> None:
        pending = self._repairs.get(room)
        if pending is not None:
            if isinstance(pending, asyncio.Task):
                if now:
                    self._recheck.add(room)
                return
            if not now:
                return
            pending.cancel()
        loop = asyncio.get_running_loop()
        self._repairs[room] = loop.call_later(0 if now else GAP_WAIT, self._start_repair, room)

    def _start_repair(self, room: str) -> None:
        task = asyncio.get_running_loop().create_task(self._repair(room))
        self._repairs[room] = task

    async def _repair(self, room: str) -> None:
        sequencer = self._sequencers.get(room)
        try:
            if sequencer is not None:
                if sequencer.last is None:
                    await self._set_baseline(room, sequencer)
                else:
                    before = sequencer.last
                    await self._catch_up(room, sequencer)
                    self._count_strike(room, sequencer, progressed=sequencer.last != before)
        finally:
            if self._repairs.get(room) is asyncio.current_task():
                del self._repairs[room]
        if self._sequencers.get(room) is not sequencer or sequencer is None:
            return
        if room in self._recheck:
            self._recheck.discard(room)
            self._schedule_repair(room, now=True)
        elif sequencer.last is None or sequencer.waiting:
            # A store that failed, or new arrivals meanwhile: look again later.
            self._schedule_repair(room)

    def _count_strike(self, room: str, sequencer: Sequencer[Held], *, progressed: bool) -> None:
        # A number published but never stored cannot come from an rtchat node (it publishes
        # after the commit, which a read started later sees): after a few reads that found
        # nothing, what waits for it is dropped rather than read for ever.
        if progressed or not sequencer.waiting:
            self._strikes.pop(room, None)
            return
        strikes = self._strikes.get(room, 0) + 1
        if strikes < MAX_STRIKES:
            self._strikes[room] = strikes
            return
        self._strikes.pop(room, None)
        log.warning("dropped %d events of %s that the store never had", len(sequencer.held), room)
        sequencer.held.clear()

    async def _set_baseline(self, room: str, sequencer: Sequencer[Held]) -> None:
        try:
            last = await self._messages.last_seq(room)
        except ChatError as error:
            log.warning("cannot read where %s stands (%s); retrying", room, error.code)
            self._schedule_repair(room)
            return
        if self._sequencers.get(room) is sequencer:
            self._release(room, sequencer, sequencer.baseline(last))

    async def _catch_up(self, room: str, sequencer: Sequencer[Held]) -> None:
        """Read from the store what followed the last number let through, up to now."""
        while self._sequencers.get(room) is sequencer and sequencer.last is not None:
            after = sequencer.last
            try:
                page = await self._messages.after(room, after, CATCH_UP_PAGE)
            except ChatError as error:
                log.warning("cannot fill a gap in %s (%s); retrying", room, error.code)
                return
            ready: list[Held] = []
            for entry in page:
                if entry.seq in sequencer.held or entry.seq <= (sequencer.last or 0):
                    continue  # here already, live: no need to encode it again
                # The event a live entry would have been: a message read from the store
                # is as it stands now, and the changes after it change it no further.
                encoded = self._delivery.encode(_event_of(entry))
                before = len(ready)
                ready.extend(sequencer.offer(entry.seq, (encoded, "")))
                if len(ready) > before:
                    self.filled += 1
            for event, exclude_user in ready:
                self._to_local_room(room, event, exclude_user)
            if len(page) < CATCH_UP_PAGE:
                return

    # --- local writes ----------------------------------------------------------------------

    def _to_local_room(self, room: str, event: bytes, exclude_user: str) -> None:
        exclude: Collection[ConnectionId] = (
            self._connections.conns_of(exclude_user) if exclude_user else ()
        )
        self._delivery.to_room(room, event, exclude)

    def _to_local_user(self, user_id: str, event: bytes, skip: str) -> None:
        for conn in self._connections.conns_of(user_id):
            if conn != skip:
                self._delivery.to_connection(conn, event)

    async def _apply(self, body: dict[str, Any]) -> None:
        handler = self._commands.get(str(body.get("t")))
        if handler is None:
            log.warning("dropped an unknown command %r", str(body.get("t"))[:40])
            return
        await handler(body)

    async def _run_commands(self) -> None:
        while True:
            body = await self._inbox.get()
            try:
                await self._apply(body)
            except ChatError as error:
                log.warning("a command from another node failed: %s", error)
            except Exception:
                log.exception("a command from another node failed")

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("relay work failed", exc_info=task.exception())


def _event_of(entry: LogEntry) -> ServerEvent:
    return MessagePosted(entry) if isinstance(entry, Message) else MessageChanged(entry)


def _room_channel(room: str) -> str:
    return "r:" + room


def _user_channel(user_id: str) -> str:
    return "u:" + user_id
