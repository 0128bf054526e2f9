"""rtchat's own Socket.IO v5 / Engine.IO v4 server (see docs/ENGINE.md)."""

from rtchat.engine.eio_server import EngineOptions
from rtchat.engine.serve import Server
from rtchat.engine.server import ConnectRefused, SocketServer

__all__ = ["ConnectRefused", "EngineOptions", "Server", "SocketServer"]
