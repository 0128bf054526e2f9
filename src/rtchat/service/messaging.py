"""Messages: post (store, then deliver), history pages, and `sync` after a reconnect."""

from __future__ import annotations

from collections.abc import Mapping

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.mentions import mention_keys
from rtchat.domain.models import Change, ConnectionId, Message, MessageDraft
from rtchat.service.context import Context
from rtchat.service.ids import new_id
from rtchat.service.limits import (
    HISTORY_PAGE,
    MAX_HISTORY_PAGE,
    MAX_SYNC_ROOMS,
    SYNC_BUDGET,
    SYNC_PAGE,
)
from rtchat.service.typing import Typing
from rtchat.service.views import SyncPage
from rtchat.tally import Tally

# Upper edges of the store append latency histogram's buckets, in seconds.
APPEND_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)


class Messaging:
    def __init__(self, ctx: Context, typing: Typing) -> None:
        self._ctx = ctx
        self._typing = typing
        # Read by /metrics at scrape time.
        self.posted = 0  # messages stored from this node's clients (a resend not counted)
        self.append_seconds = Tally(APPEND_BUCKETS)  # how long each successful append took

    async def post(
        self,
        conn: ConnectionId,
        room: object,
        text: object,
        client_id: object = None,
        reply_to: object = None,
    ) -> Message:
        """Store, then deliver. The transport starts one connection's posts while earlier
        ones are still in flight, so nothing here may suspend before `append` for a room
        the user is in (membership and the rate limit are read without waiting): that keeps
        the store's order, and so the sequence numbers, the order the client sent them in.
        `reply_to` names a message of the same room (the store checks it, in the append)."""
        ctx = self._ctx
        user = ctx.joined(conn)
        cleaned = rules.clean_message(text)
        name = await ctx.member_room(user, room)
        ctx.membership.check_voice(user.id, name, ctx.clock.now())
        cid = rules.clean_client_id(client_id)
        answers = rules.clean_reply_to(reply_to)
        ctx.spend(ctx.limiters.messages, user.id, "Too many messages; wait a moment.")
        draft = MessageDraft(
            new_id(),
            name,
            user,
            cleaned,
            ctx.clock.now(),
            cid,
            sent_from=conn,
            mention_keys=mention_keys(cleaned),
            reply_to=answers,
        )
        started = ctx.clock.monotonic()
        message, created = await ctx.storage.messages.append(draft)
        self.append_seconds.observe(ctx.clock.monotonic() - started)
        if created:
            self.posted += 1
            ctx.relay.message(message)
            await self._typing.stop(user, name)
        return message

    async def history(
        self, conn: ConnectionId, room: object, before: object, limit: object = None
    ) -> tuple[list[Message], bool]:
        ctx = self._ctx
        user = ctx.joined(conn)
        name = await ctx.member_room(user, room)
        seq = rules.clean_seq(before, "before")
        size = rules.clean_limit(limit, HISTORY_PAGE, MAX_HISTORY_PAGE)
        async with ctx.admitted(ctx.reads_gate, conn):
            page = await ctx.storage.messages.before(name, seq, size + 1)
        return page[-size:], len(page) > size

    async def sync(self, conn: ConnectionId, positions: object) -> dict[str, SyncPage]:
        """What brings a client from the last sequence number it saw in each room to the
        room as it stands: the log entries after it, up to `SYNC_PAGE` per room and
        `SYNC_BUDGET` in all (a room past the budget answers nothing and `hasMore` if it
        has some), given as messages in their current state — those posted after the
        position, and the older ones an edit, delete or reaction after it changed — with
        the position they bring the client to. Several spellings of one room (`Dev`,
        ` dev `) are one room, read once from the earliest of their positions."""
        ctx = self._ctx
        user = ctx.joined(conn)
        if not isinstance(positions, Mapping) or len(positions) > MAX_SYNC_ROOMS:
            raise ChatError(
                ErrorCode.INVALID_PAYLOAD,
                f"`rooms` must map up to {MAX_SYNC_ROOMS} room names to sequence numbers.",
            )
        since: dict[str, int] = {}
        for room, seq in positions.items():
            name = await ctx.member_room(user, room)
            after = rules.clean_seq(seq, "seq")
            since[name] = min(after, since.get(name, after))
        missed: dict[str, SyncPage] = {}
        budget = SYNC_BUDGET
        async with ctx.admitted(ctx.reads_gate, conn):
            for name, after in since.items():
                if budget == 0:
                    more = await ctx.storage.messages.last_seq(name) > after
                    missed[name] = SyncPage([], more, after)
                    continue
                size = min(SYNC_PAGE, budget)
                page = await ctx.storage.messages.after(name, after, size + 1)
                entries = page[:size]
                messages = await self._current(name, entries)
                reached = entries[-1].seq if entries else after
                missed[name] = SyncPage(messages, len(page) > size, reached)
                budget -= len(entries)
        return missed

    async def _current(self, room: str, entries: list[Message | Change]) -> list[Message]:
        """The messages of `entries` and those the changes among them changed, as they stand
        now, each once, by sequence number."""
        messages = {e.id: e for e in entries if isinstance(e, Message)}
        for entry in entries:
            if isinstance(entry, Change) and entry.target not in messages:
                changed = await self._ctx.storage.messages.get(room, entry.target)
                if changed is not None:
                    messages[changed.id] = changed
        return sorted(messages.values(), key=lambda m: m.seq)
