"""Edits, deletes and reactions: checked, stored as entries of the room's log, then
delivered like messages (in sequence order, once, on every node)."""

from __future__ import annotations

from datetime import timedelta

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.models import ChangeDraft, ChangeKind, ConnectionId, Message, User
from rtchat.service.context import Context
from rtchat.service.moderation import check_voice_in_store, may_moderate


def edit_value(text: object) -> tuple[ChangeKind, str]:
    """The change an edit to `text` is."""
    return ChangeKind.EDIT, rules.clean_message(text)


DELETION = (ChangeKind.DELETE, "")
"""The change a delete is."""


def reaction_value(emoji: object, on: object) -> tuple[ChangeKind, str]:
    """The change giving (`on`, the default) or taking back `emoji` is."""
    cleaned = rules.clean_emoji(emoji)
    kind = ChangeKind.REACT if rules.clean_flag(on, "on", True) else ChangeKind.UNREACT
    return kind, cleaned


class Changes:
    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    async def edit(
        self, conn: ConnectionId, room: object, message_id: object, text: object, client_id: object
    ) -> Message:
        """Give one's own message a new text, within the edit window. The same text again
        (or a retry by `client_id`) changes nothing and answers the message as it is."""
        kind, cleaned = edit_value(text)
        return await self._change(conn, room, message_id, kind, cleaned, client_id)

    async def delete(
        self, conn: ConnectionId, room: object, message_id: object, client_id: object
    ) -> Message:
        """Turn a message into a tombstone for everyone; a second delete changes nothing."""
        return await self._change(conn, room, message_id, *DELETION, client_id)

    async def react(
        self,
        conn: ConnectionId,
        room: object,
        message_id: object,
        emoji: object,
        on: object,
        client_id: object = None,
    ) -> Message:
        """Give (`on`, the default) or take back one's reaction `emoji` to a message;
        giving one already given, or taking back one not given, changes nothing."""
        kind, cleaned = reaction_value(emoji, on)
        return await self._change(conn, room, message_id, kind, cleaned, client_id)

    async def may_change(self, user: User, message: Message, kind: ChangeKind) -> None:
        """The one decision of who may change a message: its author edits and deletes it (a
        guest too, for as long as the connection that is that guest lasts); the room's
        owner, its moderators and the site moderators delete anyone's; anyone in the room
        reacts. Someone muted in the room neither edits nor reacts there, as they do not
        post (deleting their own stays open). Raises `muted`, `blocked`, `not_author` or
        `edit_window_passed`."""
        ctx = self._ctx
        if kind is not ChangeKind.DELETE:
            ctx.membership.check_voice(user.id, message.room, ctx.clock.now())
        if kind in (ChangeKind.REACT, ChangeKind.UNREACT):
            return
        if message.author.id != user.id:
            if kind is ChangeKind.DELETE and await may_moderate(ctx, message.room, user):
                return
            raise ChatError(ErrorCode.NOT_AUTHOR)
        window = self._ctx.limits.edit_window
        if (
            kind is ChangeKind.EDIT
            and window > 0
            and self._ctx.clock.now() - message.timestamp > timedelta(seconds=window)
        ):
            raise ChatError(
                ErrorCode.EDIT_WINDOW_PASSED,
                f"Messages can be edited for {window:g} seconds after they are posted.",
            )

    async def _change(
        self,
        conn: ConnectionId,
        room: object,
        message_id: object,
        kind: ChangeKind,
        value: str,
        client_id: object,
    ) -> Message:
        user = self._ctx.joined(conn)
        name = await self._ctx.member_room(user, room)
        return await self.apply(user, name, message_id, kind, value, client_id)

    async def apply(
        self,
        user: User,
        room: str,
        message_id: object,
        kind: ChangeKind,
        value: str,
        client_id: object,
        *,
        voice_in_store: bool = False,
    ) -> Message:
        """`user`'s change of a message of `room` (a room they may change messages in),
        checked, stored, delivered. `voice_in_store`: a caller with no connection here
        (the HTTP API), whose mutes this node need not know, so they are read from the
        store."""
        ctx = self._ctx
        target_id = rules.clean_message_id(message_id)
        cid = rules.clean_client_id(client_id)
        ctx.spend(ctx.limiters.messages, user.id, "Too many changes; wait a moment.")
        target = await ctx.storage.messages.get(room, target_id)
        if target is None:
            raise ChatError(ErrorCode.MESSAGE_NOT_FOUND, f"{room!r} has no such message.")
        if voice_in_store and kind is not ChangeKind.DELETE:
            await check_voice_in_store(ctx, user, room)
        await self.may_change(user, target, kind)
        draft = ChangeDraft(room, target_id, user, kind, ctx.clock.now(), value, cid)
        message, entry = await ctx.storage.messages.change(draft)
        if entry is not None:
            ctx.relay.entry(entry)
        return message
