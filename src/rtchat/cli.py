"""Command line: `rtchat serve` runs the server; `rtchat protocol` prints the protocol docs."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

import uvicorn
import uvloop

from rtchat.settings import Settings, SettingsError

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


class _Server(uvicorn.Server):
    """uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown, which would end the
    process with a signal status; a requested stop is a clean stop, so we exit 0."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        self.should_exit = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        for sock in sockets or ():
            host, port = sock.getsockname()[:2]
            # Tests and scripts read this line to learn the port when started with --port 0.
            print(f"rtchat listening on http://{host}:{port}", flush=True)


def serve(settings: Settings) -> int:
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as error:
        print(f"rtchat: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 2
    try:
        # uvloop: a faster event loop, the same one uvicorn would pick.
        uvloop.run(_serve(settings, sock))
    except ValueError as error:  # storage refused the URL or file
        print(f"rtchat: {error}", file=sys.stderr)
        return 2
    return 0


async def _serve(settings: Settings, sock: socket.socket) -> None:
    from rtchat.app import running_app

    async with running_app(settings) as application:
        config = uvicorn.Config(
            application.asgi,
            http="httptools",
            ws="websockets-sansio",
            lifespan="off",
            access_log=False,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=3,
        )
        await _Server(config).serve(sockets=[sock])


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
