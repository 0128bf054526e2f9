"""Who is typing where, on every node.

Each node keeps its own `TypingTracker` for the rooms it follows and writes what it
decides to its own members. A report is judged first on the node of the typist's
connection; what that node passes on (at most once a second per user and room, and every
"stopped") goes to the other nodes following the room as a command, which their trackers
judge the same way. So every node expires what it showed by itself: the tab of a typist
whose node crashed stops showing "typing" everywhere after the tracker's `ttl`.
"""

from __future__ import annotations

from typing import Any

from rtchat.domain import rules
from rtchat.domain.events import UserTyping
from rtchat.domain.models import ConnectionId, User
from rtchat.domain.typing_state import TypingTracker
from rtchat.service.context import Context

TYPING = "typing"


class Typing:
    def __init__(self, ctx: Context, tracker: TypingTracker | None = None) -> None:
        self._ctx = ctx
        self._tracker = tracker or TypingTracker()
        # user id -> who, and from which connection, for "stopped" after expiry
        self._typists: dict[str, tuple[User, ConnectionId]] = {}
        ctx.relay.on_command(TYPING, self._on_report)

    async def report(self, conn: ConnectionId, room: object, is_typing: object) -> None:
        ctx = self._ctx
        user = ctx.joined(conn)
        flag = rules.clean_typing(is_typing)
        name = await ctx.member_room(user, room)
        ctx.membership.check_voice(user.id, name, ctx.clock.now())
        if self._show(user, name, flag, conn):
            await ctx.relay.room_command(name, _body(user, name, flag, conn), here=False)

    async def stop(self, user: User, room: str | None = None) -> None:
        """`user` stopped typing (in `room`, or everywhere): they sent, left, or went."""
        rooms = self._tracker.stop_user(user.id, room)
        if not rooms:
            return
        _, conn = self._typists.get(user.id, (user, ConnectionId("")))
        for name in rooms:
            self._write(user, name, False, conn)
            await self._ctx.relay.room_command(name, _body(user, name, False, conn), here=False)

    def expire(self) -> None:
        """Show "stopped" for every report this node holds that nobody refreshed."""
        for user_id, room in self._tracker.expired(self._ctx.clock.monotonic()):
            typist = self._typists.get(user_id)
            if typist is not None:
                user, conn = typist
                self._write(user, room, False, conn)
        if len(self._typists) > 1024:
            typing = self._tracker.users()
            self._typists = {u: t for u, t in self._typists.items() if u in typing}

    async def _on_report(self, body: dict[str, Any]) -> None:
        user = User(str(body.get("u")), str(body.get("n")), bool(body.get("g")))
        conn = ConnectionId(str(body.get("c", "")))
        self._show(user, str(body.get("r")), bool(body.get("on")), conn)

    def _show(self, user: User, room: str, flag: bool, conn: ConnectionId) -> bool:
        if not self._tracker.update(user.id, room, flag, self._ctx.clock.monotonic()):
            return False
        self._typists[user.id] = (user, conn)
        self._write(user, room, flag, conn)
        return True

    def _write(self, user: User, room: str, flag: bool, conn: ConnectionId) -> None:
        # None of the typist's own tabs should show them typing.
        event = self._ctx.relay.encode(UserTyping(user, room, flag, conn))
        self._ctx.relay.to_local_room(room, event, exclude_user=user.id)


def _body(user: User, room: str, flag: bool, conn: ConnectionId) -> dict[str, Any]:
    return {
        "t": TYPING,
        "u": user.id,
        "n": user.username,
        "g": user.guest,
        "c": conn,
        "r": room,
        "on": flag,
    }
