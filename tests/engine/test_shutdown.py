"""Stopping the engine: `shutdown` finishes whatever the handlers were doing, and returns."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO

import websockets

from tests.engine.wire import open_ws, recv

ROOT = Path(__file__).resolve().parents[2]
STOP_ROUNDS = 8
LEAVERS = 200  # with fewer, the stop rarely lands in the turn that used to spin
STOP_WITHIN = 10.0  # seconds; a clean stop takes well under one


def read_log(log: Path) -> str:
    return log.read_text()


def open_log(log: Path) -> IO[str]:
    return log.open("w")


async def listening_url(log: Path) -> str:
    """The URL `rtchat serve` writes to its log once it listens."""
    async with asyncio.timeout(15):
        while True:
            for line in read_log(log).splitlines():
                if line.startswith("rtchat listening on "):
                    return line.split()[-1]
            await asyncio.sleep(0.05)


async def _join_and_vanish(url: str, count: int) -> None:
    """`count` clients join and then all go at once, so the stop comes while their
    disconnect handlers finish, one loop turn after another."""

    async def join(i: int) -> websockets.ClientConnection:
        ws, _ = await open_ws(url)
        await ws.send("40")
        await recv(ws)  # CONNECT ack
        await ws.send(f'420["user-joined","leaver{i}"]')
        await recv(ws)  # the first answer or broadcast: the join is under way
        return ws

    sockets = await asyncio.gather(*(join(i) for i in range(count)))
    for ws in sockets:
        ws.transport.abort()  # gone without a word, as a closed tab or a cut network
    for ws in sockets:
        await ws.wait_closed()  # the sockets are closed: the server is told now


async def test_sigterm_right_after_clients_leave_exits_0_every_time(tmp_path: Path) -> None:
    for attempt in range(STOP_ROUNDS):
        log = tmp_path / f"serve{attempt}.log"
        output = open_log(log)
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rtchat",
            "serve",
            "--port",
            "0",
            cwd=tmp_path,
            env={**os.environ, "RTCHAT_DATABASE_URL": f"sqlite:///{tmp_path}/chat{attempt}.db"},
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            url = await listening_url(log)
            await _join_and_vanish(url, LEAVERS)
            process.send_signal(signal.SIGTERM)
            try:
                code = await asyncio.wait_for(process.wait(), STOP_WITHIN)
            except TimeoutError:
                raise AssertionError(f"round {attempt}: still running after SIGTERM") from None
            assert code == 0, f"round {attempt}: exit code {code}"
            assert "Traceback" not in read_log(log)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            output.close()


def test_shutdown_returns_when_the_last_handler_just_finished() -> None:
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tests.engine.stop_scenario"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise AssertionError("SocketServer.shutdown did not return") from None
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "stopped"
