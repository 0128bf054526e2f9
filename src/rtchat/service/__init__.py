"""Use cases of the chat. Knows no socket and no process: connections are opaque ids, and
everything shared with other nodes — stores, presence, name holds, rate limits, fan-out —
is behind a port.

Every message is stored before it is delivered, so an acknowledged message is in the
store and a client that reconnects, to any node, can ask for what came after the last
sequence number it saw (`sync`).
"""

from rtchat.service.chat import Chat, build_chat
from rtchat.service.limits import (
    HISTORY_PAGE,
    MAX_HISTORY_PAGE,
    MAX_ROOMS_PAGE,
    MAX_SEARCH_PAGE,
    MAX_SYNC_ROOMS,
    MEMBERS_LISTED,
    ONLINE_LIST_LIMIT,
    ONLINE_SCAN,
    ROOMS_PAGE,
    SEARCH_PAGE,
    SYNC_BUDGET,
    SYNC_PAGE,
    Limiters,
    Limits,
)
from rtchat.service.views import RoomsPage, RoomView, SessionView

__all__ = [
    "HISTORY_PAGE",
    "MAX_HISTORY_PAGE",
    "MAX_ROOMS_PAGE",
    "MAX_SEARCH_PAGE",
    "MAX_SYNC_ROOMS",
    "MEMBERS_LISTED",
    "ONLINE_LIST_LIMIT",
    "ONLINE_SCAN",
    "ROOMS_PAGE",
    "SEARCH_PAGE",
    "SYNC_BUDGET",
    "SYNC_PAGE",
    "Chat",
    "Limiters",
    "Limits",
    "RoomView",
    "RoomsPage",
    "SessionView",
    "build_chat",
]
