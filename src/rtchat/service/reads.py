"""Read markers and search: what an account has read, on every device, and finding old
messages in the rooms it can read.

A marker is the account's, not a connection's: `mark-read` on one tab moves it for every
tab, and each of them, on any node, hears `read-marker` through the user's channel.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.events import ReadMarkerMoved
from rtchat.domain.models import ConnectionId, Message, ReadState, RoomSummary, User
from rtchat.ports import SearchCursor, SearchQuery
from rtchat.service.context import Context
from rtchat.service.limits import MAX_SEARCH_PAGE, SEARCH_PAGE

log = logging.getLogger(__name__)


class Reads:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def mark_read(self, conn: ConnectionId, room: object, seq: object) -> ReadState:
        """Move the account's marker in `room` forward to `seq` (at most the room's last);
        if it moved, every connection of the account, this one too, receives `read-marker`
        (one that did not move tells nobody: tabs that each mark what they show stay quiet)."""
        user = self._ctx.account(conn)
        return await self.mark(user, await self._ctx.member_room(user, room), seq)

    async def mark(self, user: User, room: str, seq: object) -> ReadState:
        """`mark_read` for an account that is a member of `room`."""
        upto = rules.clean_seq(seq, "seq")
        state, moved = await self._ctx.storage.reads.mark(user.id, room, upto)
        if moved:
            self._ctx.relay.to_user(user.id, ReadMarkerMoved(state))
        return state

    async def counted(
        self, user: User, summaries: Sequence[RoomSummary], *, all_mine: bool = False
    ) -> list[RoomSummary]:
        """`summaries` with the account's unread and mention counts on the rooms it is a
        member of (all of them with `all_mine`, as the store just said; else as this node
        knows), in one read; a guest's stay as they are. Counts the store cannot read are
        left out rather than failing the list they decorate."""
        if user.guest:
            return list(summaries)
        ctx = self._ctx
        mine = [
            s.room.name for s in summaries if all_mine or ctx.membership.has(user.id, s.room.name)
        ]
        try:
            states = await ctx.storage.reads.states(user.id, mine) if mine else {}
        except ChatError as error:
            log.warning("answered rooms without unread counts: %s", error.code)
            states = {}
        return [_with_counts(s, states.get(s.room.name)) for s in summaries]

    async def search(
        self,
        conn: ConnectionId,
        query: object,
        room: object = None,
        before: object = None,
        limit: object = None,
    ) -> tuple[list[Message], str | None]:
        """A page of the messages with every word of `query`, newest first, from the rooms
        the account is a member of (or only `room`), and the `before` of the next page."""
        ctx = self._ctx
        user = ctx.account(conn)
        words = rules.clean_search_query(query)
        name = None if room is None else await ctx.member_room(user, room)
        slot = ctx.admitted(ctx.reads_gate, conn)
        return await self.find(user.id, words, name, before, limit, slot)

    async def find(
        self,
        reader: str | None,
        words: Sequence[str],
        room: str | None,
        before: object,
        limit: object,
        slot: AbstractAsyncContextManager[None],
    ) -> tuple[list[Message], str | None]:
        """`search` once the caller may read what it asks for: in the rooms `reader` is a
        member of (`None`: in `room`, which the caller was found to read), with `slot` of
        the reads gate held for the store's read."""
        cursor = None if before is None else parse_cursor(before)
        size = rules.clean_limit(limit, SEARCH_PAGE, MAX_SEARCH_PAGE)
        async with slot:
            found = await self._ctx.storage.search.search(
                SearchQuery(reader, tuple(words), size + 1, room, cursor)
            )
        page = found[:size]
        return page, format_cursor(page[-1]) if len(found) > size else None


def _with_counts(summary: RoomSummary, state: ReadState | None) -> RoomSummary:
    if state is None:
        return summary
    return dataclasses.replace(summary, unread=state.unread, mentions=state.mentions)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_cursor(message: Message) -> str:
    """Where a search page ended, as the client hands it back: `<µs>:<seq>:<room>`."""
    micros = (message.timestamp - _EPOCH) // timedelta(microseconds=1)
    return f"{micros}:{message.seq}:{message.room}"


def parse_cursor(value: object) -> SearchCursor:
    parts = value.split(":", 2) if isinstance(value, str) and len(value) <= 128 else []
    if len(parts) == 3 and all(p.isascii() and p.isdigit() for p in parts[:2]) and parts[2]:
        micros, seq = int(parts[0]), int(parts[1])
        if micros <= rules.MAX_SEQ and seq <= rules.MAX_SEQ:
            return micros, parts[2], seq
    raise ChatError(ErrorCode.INVALID_PAYLOAD, "`before` must be the `next` of a search page.")
