"""`rtchat serve --workers N`: N processes on one port, each a node of the cluster.

A Python process runs on one core, so one worker per core is how a machine is used. The
supervisor (this module) holds the port, starts the workers, and watches them:

- Every worker binds the same address with SO_REUSEPORT and the kernel spreads new
  connections over them. The supervisor binds it first (without listening, so the kernel
  sends it nothing) to pick the port when 0 was asked for, and to keep it while a worker
  restarts.
- Each worker is `rtchat serve` with the supervisor's settings, its own node id
  (`<node>-<index>`), and Redis for what they share; no worker knows it has siblings.
- A worker that exits by itself is started again (after 0.5 s, growing to 10 s while it
  keeps failing); its clients reconnect to the others meanwhile.
- SIGINT or SIGTERM stops every worker (SIGTERM, then SIGKILL after the grace) and exits 0.
  The workers run in process groups of their own (in the supervisor's session), so a
  terminal's Ctrl-C reaches only the supervisor, which stops them in order; and each
  worker dies with the supervisor should it be killed outright (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import logging
import os
import signal
import socket
import sys
import time
from pathlib import Path

from rtchat.cli import WORKER_ENV
from rtchat.settings import ENV_PREFIX, Settings

log = logging.getLogger("rtchat.workers")

READY_LINE = "rtchat listening on "
READY_WITHIN = 30.0
# A worker has its own RTCHAT_SHUTDOWN_TIMEOUT to drain in, and this much more to exit.
STOP_MARGIN = 5.0
RESTART_FIRST, RESTART_MAX = 0.5, 10.0
STABLE_AFTER = 30.0  # a worker that lived this long before dying restarts at once again


def reserve_port(settings: Settings) -> socket.socket:
    """Bind the address with SO_REUSEPORT, not listening: it picks the port and holds it."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.host, settings.port))
    return sock


def worker_env(settings: Settings, index: int, port: int) -> dict[str, str]:
    """The worker's environment: every resolved setting as its RTCHAT_ variable (flags
    included), one worker, the reserved port, and a node id of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(ENV_PREFIX) and k != "PORT"}
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        env[ENV_PREFIX + f.name.upper()] = "" if value is None else str(value)
    env[ENV_PREFIX + "WORKERS"] = "1"
    env[ENV_PREFIX + "PORT"] = str(port)
    env[ENV_PREFIX + "NODE_ID"] = f"{settings.node_id}-{index}"
    env[WORKER_ENV] = str(index)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclasses.dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    delay: float = RESTART_FIRST
    ready: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


class Supervisor:
    def __init__(self, settings: Settings, port: int) -> None:
        self._settings = settings
        self._port = port
        self._workers = [_Worker(i) for i in range(1, settings.workers + 1)]
        self._stopping = asyncio.Event()
        self._relays: set[asyncio.Task[None]] = set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        watchers = [asyncio.create_task(self._keep(worker)) for worker in self._workers]
        all_ready = asyncio.create_task(self._all_ready())
        stop = asyncio.create_task(self._stopping.wait())
        await asyncio.wait(
            {all_ready, stop}, timeout=READY_WITHIN, return_when=asyncio.FIRST_COMPLETED
        )
        failed = not all_ready.done() and not self._stopping.is_set()
        if failed:
            log.error("the workers did not all start within %s s", READY_WITHIN)
            self._stopping.set()
        all_ready.cancel()
        stop.cancel()
        if not self._stopping.is_set():
            host = self._settings.host
            print(f"{READY_LINE}http://{host}:{self._port}", flush=True)
            log.info("%d workers serving %s:%s", len(self._workers), host, self._port)
        await self._stopping.wait()
        await self._stop_all()
        for watcher in watchers:
            watcher.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        return 1 if failed else 0

    async def _all_ready(self) -> None:
        for worker in self._workers:
            await worker.ready.wait()

    async def _keep(self, worker: _Worker) -> None:
        while not self._stopping.is_set():
            try:
                await self._start(worker)
            except Exception:
                log.exception("cannot start worker %d", worker.index)
            else:
                assert worker.process is not None
                code = await worker.process.wait()
                if self._stopping.is_set():
                    return
                log.warning("worker %d exited (%s); starting it again", worker.index, code)
            if time.monotonic() - worker.started > STABLE_AFTER:
                worker.delay = RESTART_FIRST
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), worker.delay)
            worker.delay = min(worker.delay * 2, RESTART_MAX)

    async def _start(self, worker: _Worker) -> None:
        worker.started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "rtchat",
            "serve",
            env=worker_env(self._settings, worker.index, self._port),
            cwd=Path.cwd(),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=_prepare_worker,
        )
        worker.process = process
        relay = asyncio.create_task(self._relay_output(worker, process))
        self._relays.add(relay)
        relay.add_done_callback(self._relays.discard)

    async def _relay_output(self, worker: _Worker, process: asyncio.subprocess.Process) -> None:
        # A worker's lines pass through as they are (each names its node); its "listening"
        # line is the supervisor's to print, once every worker is up.
        assert process.stdout is not None
        while line := await process.stdout.readline():
            text = line.decode(errors="replace")
            if text.startswith(READY_LINE):
                worker.ready.set()
                continue
            sys.stdout.write(text)
            sys.stdout.flush()

    async def _stop_all(self) -> None:
        running = [w.process for w in self._workers if w.process and w.process.returncode is None]
        for process in running:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        if not running:
            return
        grace = self._settings.shutdown_timeout + STOP_MARGIN
        _, pending = await asyncio.wait(
            [asyncio.create_task(p.wait()) for p in running], timeout=grace
        )
        for process in running:
            if process.returncode is None:
                log.warning("a worker did not stop within %s s; killing it", grace)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if pending:
            await asyncio.wait(pending, timeout=STOP_MARGIN)


def _prepare_worker() -> None:
    # Runs in the worker between fork and exec: a process group of its own (a terminal's
    # Ctrl-C is the supervisor's to pass on), and a SIGTERM from Linux if we die.
    os.setpgid(0, 0)
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def supervise(settings: Settings) -> int:
    """Run the workers until SIGINT or SIGTERM; the process's exit code."""
    import uvloop

    try:
        sock = reserve_port(settings)
    except OSError as error:
        print(f"rtchat: cannot listen on {settings.host}:{settings.port}: {error}", file=sys.stderr)
        return 2
    try:
        port = int(sock.getsockname()[1])
        return uvloop.run(Supervisor(settings, port).run())
    finally:
        sock.close()
