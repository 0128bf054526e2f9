"""Processes of a benchmark run: start, wait until listening, stop, and read their CPU.

Every process is started in a session of its own (`start_new_session`), so it can be stopped
with everything it forked (`killpg`), and its CPU is the sum over the processes of that
session (workers included). Everything listens on 127.0.0.1; every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

START_TIMEOUT_S = 30.0


class ServerFailedError(RuntimeError):
    pass


@dataclass
class Proc:
    """One process we started: what it is, where it listens, how its CPU is counted."""

    name: str  # as in reports: "node a", "redis", "haproxy"
    role: str  # "server", "redis" or "balancer"
    popen: subprocess.Popen[bytes]
    port: int
    argv: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.popen.pid


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def spawn(
    name: str,
    role: str,
    argv: list[str],
    port: int,
    *,
    env: dict[str, str],
    cwd: Path,
    log_path: Path,
    stdout_to_log: bool = True,
) -> Proc:
    """Start `argv` in its own session, output appended to `log_path`; wait until it listens."""
    with log_path.open("ab") as log:
        log.write(f"\n=== {name}: {' '.join(argv)}\n".encode())
        log.flush()
        popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log if stdout_to_log else subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    proc = Proc(name, role, popen, port, argv)
    try:
        wait_listening(proc)
    except ServerFailedError as e:
        stop(proc)
        raise ServerFailedError(f"{e}: {_last_line(log_path)}") from None
    except BaseException:
        stop(proc)
        raise
    return proc


def _last_line(log_path: Path) -> str:
    # What a server says when it refuses to start is the last thing it wrote.
    lines = [ln for ln in log_path.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1][:300] if lines and not lines[-1].startswith("=== ") else "(no output)"


def wait_listening(proc: Proc, timeout_s: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.popen.poll() is not None:
            raise ServerFailedError(f"{proc.name} exited with {proc.popen.returncode} at start-up")
        try:
            with socket.create_connection(("127.0.0.1", proc.port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerFailedError(f"{proc.name} did not listen on port {proc.port} within {timeout_s} s")


def stop(proc: Proc) -> None:
    """SIGTERM to the process group, SIGKILL after 5 s; always reaps."""
    p = proc.popen
    if p.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(timeout=5)
    # Whatever the leader left behind in its group (workers) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(p.pid, signal.SIGKILL)
    if p.poll() is None:
        p.wait(timeout=5)


def stop_all(procs: Iterable[Proc]) -> None:
    for proc in reversed(list(procs)):
        stop(proc)


# ---------------------------------------------------------------- /proc readings


def _stat_fields(pid: int) -> list[str] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def session_pids(sid: int) -> list[int]:
    """Every process of the session `sid` (a process we started and what it forked)."""
    out = []
    for pid in _all_pids():
        f = _stat_fields(pid)
        if f is not None and int(f[3]) == sid:  # field 6 of stat, "session"
            out.append(pid)
    return out


def cpu_jiffies(pid: int) -> int:
    """utime + stime of one process (all its threads), 0 if it is gone."""
    f = _stat_fields(pid)
    return int(f[11]) + int(f[12]) if f is not None else 0


def kernel_jiffies_and_writes(pid: int) -> tuple[int, int]:
    """stime (clock ticks) and write system calls so far (`syscw` of /proc/<pid>/io) of one
    process, all its threads; zeros if it is gone."""
    f = _stat_fields(pid)
    try:
        io = Path(f"/proc/{pid}/io").read_text()
    except OSError:
        return 0, 0
    writes = next((int(line.split()[1]) for line in io.splitlines() if line.startswith("syscw")), 0)
    return (int(f[12]) if f is not None else 0), writes


def machine_busy_jiffies() -> int:
    """Busy CPU time of the whole machine (all cores), in clock ticks."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(x) for x in fields]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle


def allowed_cpus(pid: int) -> str:
    """The cores `pid` may run on (what taskset set), e.g. "0" or "0-1"."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "gone"
    m = re.search(r"Cpus_allowed_list:\s*(\S+)", status)
    return m.group(1) if m else "unknown"


def postgres_pids(database: str | None) -> list[int]:
    """PostgreSQL processes: the backends serving `database`, or all of them (None).

    A backend's title is "postgres: <cluster>: <user> <database> <client> <state>"
    (update_process_title, on by default); the run's database has a unique name.
    """
    out = []
    for pid in _all_pids():
        try:
            if Path(f"/proc/{pid}/comm").read_text().strip() != "postgres":
                continue
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if database is None or f" {database} " in title:
            out.append(pid)
    return out
