"""Command line: `rtchat serve` runs the server; `rtchat protocol` prints the protocol docs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from rtchat.logs import configure
from rtchat.settings import Settings, SettingsError

WORKER_ENV = "RTCHAT_WORKER_INDEX"  # set by the supervisor of `--workers N` (workers.py)

log = logging.getLogger("rtchat")

_FLAG_TYPES: dict[str, type] = {"str": str, "int": int, "float": float, "Path | None": Path}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rtchat", description="A real-time chat server.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser(
        "serve",
        help="run the chat server",
        description="Run the chat server. Every flag has an RTCHAT_<NAME> variable too.",
    )
    for f in dataclasses.fields(Settings):
        serve.add_argument(
            "--" + f.name.replace("_", "-"),
            type=_FLAG_TYPES[str(f.type)],
            default=None,
            help=f"{f.metadata['help']} (env RTCHAT_{f.name.upper()})",
        )
    protocol = commands.add_parser("protocol", help="print docs/protocol.md from the code")
    protocol.add_argument("--output", type=Path, help="write to this file instead of stdout")
    return parser


def serve(settings: Settings) -> int:
    from rtchat.app import node_id

    settings = dataclasses.replace(settings, node_id=node_id(settings))
    supervising = settings.workers > 1
    configure(settings.log_level, settings.log_format, settings.node_id, supervising=supervising)
    if supervising:
        from rtchat.workers import supervise

        return supervise(settings)
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if WORKER_ENV in os.environ:  # one of `--workers N`: the port is shared with the others
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as error:
        print(f"rtchat: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 2
    try:
        # uvloop: a faster event loop than asyncio's own.
        uvloop.run(_serve(settings, sock))
    except ValueError as error:  # storage refused the URL or file
        print(f"rtchat: {error}", file=sys.stderr)
        return 2
    return 0


async def _serve(settings: Settings, sock: socket.socket) -> None:
    from rtchat.app import running_app
    from rtchat.engine import Server

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    # A requested stop is a clean stop: close connections, close storage, exit 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running_app(settings) as application:
        server = Server(application.sio, application.asgi, forwarder=application.forwarder)
        host, port = await server.start(sock)
        if application.peers is not None:
            bind, advertise = internal_address(settings)
            _, internal_port = await server.start_internal(bind, settings.internal_port)
            await application.peers.publish(advertise, internal_port)
            log.info("other nodes reach this one at %s:%s", advertise, internal_port)
        # Tests and scripts read this line to learn the port when started with --port 0.
        print(f"rtchat listening on http://{host}:{port}", flush=True)
        log.info("node %s serving on %s:%s", settings.node_id, host, port)
        try:
            await stop.wait()
        finally:
            await server.stop(grace=settings.shutdown_timeout)


def internal_address(settings: Settings) -> tuple[str, str]:
    """Where to listen for other nodes' forwarded requests, and what to tell them."""
    if settings.internal_host:
        return settings.internal_host, settings.internal_host
    if settings.host not in ("0.0.0.0", "::", ""):
        return settings.host, settings.host
    # Every interface: listen on all, and name the one a route out of this machine uses.
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("10.255.255.255", 1))  # nothing is sent: UDP only picks a route
        return settings.host, str(probe.getsockname()[0])
    return settings.host, socket.gethostbyname(socket.gethostname())


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "protocol":
        from rtchat.protocol_doc import render

        text = render()
        if args.output:
            args.output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0
    overrides = {
        f.name: getattr(args, f.name)
        for f in dataclasses.fields(Settings)
        if getattr(args, f.name) is not None
    }
    try:
        settings = Settings.from_sources(os.environ, overrides)
    except SettingsError as error:
        print(f"rtchat: bad setting: {error}", file=sys.stderr)
        return 2
    return serve(settings)


if __name__ == "__main__":
    raise SystemExit(main())
