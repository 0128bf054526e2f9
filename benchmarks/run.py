"""Measure rtchat side by side with the Node seed server and python-socketio.

    python benchmarks/run.py            # full run (3 repetitions), writes benchmarks/results/
    python benchmarks/run.py --smoke    # small version of every scenario, fails on any loss

Each server runs pinned to one core, the load generator (benchmarks/loadgen.js) to another.
Servers are interleaved within each repetition. Everything talks to 127.0.0.1 only and every
wait is bounded. See docs/PERFORMANCE.md for the method.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_report

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV_BIN = Path(sys.executable).parent
LOADGEN = BENCH / "loadgen.js"
WORK = BENCH / ".work"

# The rate limit is off for every rtchat run (recorded in the report), and so is the cap
# on connections per address: every client of the load generator comes from 127.0.0.1.
RTCHAT_ENV = {"RTCHAT_RATE_LIMIT": "0", "RTCHAT_MAX_CONNECTIONS_PER_IP": "0"}

FULL: dict[str, Any] = {
    "reps": 3,
    "idle": {
        "stages": [1000, 5000, 10000],
        "settleMs": 2000,
        "inflight": 200,
        "deadlineS": 300,
        "quietWaitS": 10,
        "lockWaitS": 180,
    },
    "session": {
        "clients": 1000,
        "inflight": 200,
        "s2Windows": [1, 50],
        "s2Seconds": 4,
        "s2MaxMessages": 200_000,
        "s3Rates": [20, 100],
        "s3Seconds": 8,
        "s3Senders": 10,
        "s3MaxLagMs": 2000,
        "s3KeptUpDrainMs": 250,
        "drainTimeoutMs": 90_000,
        "stallMs": 10_000,
        "pauseMs": 500,
        "deadlineS": 900,
        "quietWaitS": 10,
        "lockWaitS": 180,
    },
}
SMOKE: dict[str, Any] = {
    "reps": 1,
    "idle": {
        "stages": [100, 200],
        "settleMs": 200,
        "inflight": 50,
        "deadlineS": 60,
        "quietWaitS": 0,
    },
    "session": {
        **FULL["session"],
        "clients": 100,
        "inflight": 50,
        "s2Seconds": 0.5,
        "s2MaxMessages": 5000,
        "s3Seconds": 1,
        "drainTimeoutMs": 20_000,
        "stallMs": 5_000,
        "pauseMs": 100,
        "deadlineS": 120,
        "quietWaitS": 0,
        "lockWaitS": 0,
    },
}


@dataclass(frozen=True)
class Server:
    """One server under test: how to start it on a port, with a private scratch dir."""

    name: str
    description: str
    argv: Callable[[int, Path], list[str]]
    env: Callable[[int, Path], dict[str, str]] = lambda _port, _tmp: {}
    stdout_to_log: bool = True


def _rtchat_command(port: int, _tmp: Path) -> list[str]:
    return [str(VENV_BIN / "rtchat"), "serve", "--host", "127.0.0.1", "--port", str(port)]


SERVERS = [
    Server(
        "node-seed",
        "the seed's server.js on express + socket.io (benchmarks/servers/seed_server.js)",
        lambda port, _tmp: ["node", str(BENCH / "servers" / "seed_server.js")],
        lambda port, _tmp: {"PORT": str(port), "HOST": "127.0.0.1"},
        stdout_to_log=False,  # the seed console.logs every connection
    ),
    Server(
        "python-socketio",
        "python-socketio AsyncServer under uvicorn (benchmarks/servers/reference_socketio.py)",
        lambda port, _tmp: [
            str(VENV_BIN / "python"),
            str(BENCH / "servers" / "reference_socketio.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
    ),
    Server(
        "rtchat-sqlite",
        "rtchat serve, default storage (SQLite file in a fresh temp dir)",
        _rtchat_command,
        # relative to the server's working dir, which is the run's fresh scratch dir
        lambda _port, _tmp: {**RTCHAT_ENV, "RTCHAT_DATABASE_URL": "sqlite:///bench.db"},
    ),
    Server(
        "rtchat-memory",
        "rtchat serve, storage off (RTCHAT_DATABASE_URL=memory://)",
        _rtchat_command,
        lambda _port, _tmp: {**RTCHAT_ENV, "RTCHAT_DATABASE_URL": "memory://"},
    ),
]


# Calibration, not a server under test: the least work a Node server can do per broadcast.
NULL_SERVER = Server(
    "null-broadcast",
    "calibration: the seed's broadcasts hand-written on node:http, no socket.io "
    "(benchmarks/servers/null_server.js)",
    lambda port, _tmp: ["node", str(BENCH / "servers" / "null_server.js")],
    lambda port, _tmp: {"PORT": str(port), "HOST": "127.0.0.1"},
)


class ServerFailedError(RuntimeError):
    pass


@dataclass
class Machine:
    """Cores to pin to and the open-file limit, decided once per run."""

    server_cpu: int | None = None
    gen_cpu: int | None = None
    nofile: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    def pin(self, cpu: int | None) -> list[str]:
        return ["taskset", "-c", str(cpu)] if cpu is not None else []


def prepare_machine() -> Machine:
    m = Machine()
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard != resource.RLIM_INFINITY else 1_048_576
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    except (ValueError, OSError) as e:
        m.notes.append(f"could not raise the open-file limit: {e}")
    m.nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and shutil.which("taskset"):
        m.server_cpu, m.gen_cpu = cpus[0], cpus[1]
    else:
        m.notes.append(f"not pinned: {len(cpus)} usable CPU(s) or no taskset")
    return m


def ensure_npm_deps() -> None:
    """Install the pinned npm packages (benchmarks/package-lock.json) if missing."""
    if all((BENCH / "node_modules" / p).is_dir() for p in ("express", "socket.io")):
        return
    cmd = ["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(cmd, check=True, timeout=600)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(server: Server, m: Machine, tmp: Path, log_path: Path) -> subprocess.Popen[bytes]:
    port = free_port()
    argv = m.pin(m.server_cpu) + server.argv(port, tmp)
    env = {**os.environ, **server.env(port, tmp)}
    with log_path.open("ab") as log:
        log.write(f"\n=== {' '.join(argv)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=log if server.stdout_to_log else subprocess.DEVNULL,
            stderr=log,
            start_new_session=True,
        )
    proc.port = port  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerFailedError(f"{server.name} exited with {proc.returncode} at start-up")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.05)
    stop_server(proc)
    raise ServerFailedError(f"{server.name} did not listen on port {port} within 30 s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


def machine_busy_jiffies() -> int:
    """Busy CPU time of the whole machine (all cores), in clock ticks."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    values = [int(x) for x in fields]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values[:8]) - idle


def proc_cpu_jiffies(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    f = stat[stat.rindex(")") + 2 :].split()
    return int(f[11]) + int(f[12])


def run_generator(
    mode: str, cfg: dict[str, Any], proc: subprocess.Popen[bytes], m: Machine
) -> dict[str, Any]:
    """Run loadgen.js against a running server; returns its result plus machine-load data."""
    clk = os.sysconf("SC_CLK_TCK")
    gen_cfg = {**cfg, "mode": mode, "port": proc.port, "serverPid": proc.pid, "clkTck": clk}  # type: ignore[attr-defined]
    argv = [*m.pin(m.gen_cpu), "node", str(LOADGEN), json.dumps(gen_cfg)]
    busy0, srv0, t0 = machine_busy_jiffies(), proc_cpu_jiffies(proc.pid), time.monotonic()
    children0 = sum(os.times()[2:4])
    gen = subprocess.Popen(argv, cwd=BENCH, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        out, _ = gen.communicate(timeout=cfg["deadlineS"] + 30)
    except subprocess.TimeoutExpired:
        gen.kill()
        out, _ = gen.communicate(timeout=10)
    finally:
        if gen.poll() is None:  # interrupted: do not leave the generator behind
            gen.kill()
            gen.wait(timeout=10)
    wall = time.monotonic() - t0
    gen_s = sum(os.times()[2:4]) - children0  # the generator, now that it has been waited for
    result: dict[str, Any] = {"ok": False, "errors": [f"generator exited with {gen.returncode}"]}
    for line in out.decode(errors="replace").splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[7:])
    srv_s = ((proc_cpu_jiffies(proc.pid) if proc.poll() is None else srv0) - srv0) / clk
    busy_s = (machine_busy_jiffies() - busy0) / clk
    # CPU used by everything else on the machine meanwhile (other engineers' test runs...)
    result["machine"] = {
        "wall_s": wall,
        "busy_cores": busy_s / wall,
        "server_cores": srv_s / wall,
        "generator_cores": gen_s / wall,
        "other_cores": max(0.0, busy_s - srv_s - gen_s) / wall,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }
    if proc.poll() is not None:
        result["ok"] = False
        result.setdefault("errors", []).append(f"server exited with {proc.returncode}")
    return result


def wait_for_quiet(max_wait_s: float, busy_limit: float = 0.3) -> dict[str, float]:
    """On a shared machine, wait (bounded) until other work uses less than busy_limit cores.

    Sampled over 0.5 s windows while nothing of ours runs; returns how long it waited and the
    last busy level seen, for the report.
    """
    clk = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    busy = 0.0
    while True:
        b0, t0 = machine_busy_jiffies(), time.monotonic()
        time.sleep(0.5)
        busy = (machine_busy_jiffies() - b0) / clk / (time.monotonic() - t0)
        if busy < busy_limit or time.monotonic() - start >= max_wait_s:
            return {"waited_s": time.monotonic() - start, "busy_cores": busy}


@contextlib.contextmanager
def cores_lock(timeout_s: float) -> Iterator[float]:
    """Keep concurrent runs of this harness off each other's cores.

    `make test` runs the smoke while someone may be running `make bench`, and both pin to
    the same two cores. The smoke holds this lock for its whole (short) run, a full run for
    one server run at a time. Yields the seconds waited; after timeout_s it goes ahead
    without the lock rather than hang.
    """
    WORK.mkdir(exist_ok=True)
    with (WORK / "cores.lock").open("a") as f:
        start = time.monotonic()
        locked = False
        while not locked and time.monotonic() - start < timeout_s:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                locked = True
            except BlockingIOError:
                time.sleep(0.2)
        try:
            yield time.monotonic() - start
        finally:
            if locked:
                fcntl.flock(f, fcntl.LOCK_UN)


def run_one(
    server: Server, mode: str, cfg: dict[str, Any], m: Machine, log_path: Path
) -> dict[str, Any]:
    lock = cores_lock(cfg["lockWaitS"]) if cfg.get("lockWaitS") else contextlib.nullcontext(0.0)
    with lock as waited:
        result = _run_one(server, mode, cfg, m, log_path)
        result["lock_wait_s"] = waited
        return result


def _run_one(
    server: Server, mode: str, cfg: dict[str, Any], m: Machine, log_path: Path
) -> dict[str, Any]:
    quiet = wait_for_quiet(cfg["quietWaitS"]) if cfg.get("quietWaitS") else None
    with tempfile.TemporaryDirectory(prefix=f"rtchat-bench-{server.name}-") as tmp:
        try:
            proc = start_server(server, m, Path(tmp), log_path)
        except (ServerFailedError, OSError) as e:
            return {"ok": False, "errors": [str(e)], "start_failed": True}
        try:
            time.sleep(0.3)
            result = run_generator(mode, cfg, proc, m)
            result["quiet_before"] = quiet
        finally:
            stop_server(proc)
        # What the server left in its scratch dir: shows whether storage was really on.
        result["scratch_files"] = {
            str(p.relative_to(tmp)): p.stat().st_size for p in Path(tmp).rglob("*") if p.is_file()
        }
        return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="small and quick; asserts no timings")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, smoke 1)")
    parser.add_argument(
        "--servers",
        default=",".join(s.name for s in SERVERS),
        help="comma-separated subset of: " + ", ".join(s.name for s in SERVERS),
    )
    parser.add_argument(
        "--modes",
        default="idle,session",
        help="idle (S1) and/or session (S4, S2, S3 on the same 1,000 joined clients)",
    )
    parser.add_argument(
        "--no-calibrate",
        action="store_true",
        help="skip the generator-ceiling run against servers/null_server.js (full runs only)",
    )
    parser.add_argument("--out", type=Path, help="report directory (default: results/ or .work/)")
    args = parser.parse_args(argv)

    plan = SMOKE if args.smoke else FULL
    reps = args.reps or plan["reps"]
    wanted = args.servers.split(",")
    servers = [s for s in SERVERS if s.name in wanted]
    if len(servers) != len(wanted):
        parser.error(f"unknown server in {args.servers!r}")
    m = prepare_machine()
    if m.nofile[0] < max(plan["idle"]["stages"]) + 200:
        keep = [n for n in plan["idle"]["stages"] if n + 200 <= m.nofile[0]]
        m.notes.append(f"S1 limited to {keep}: open-file limit {m.nofile[0]}")
        plan = {**plan, "idle": {**plan["idle"], "stages": keep}}
    ensure_npm_deps()
    WORK.mkdir(exist_ok=True)
    started = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    log_dir = WORK / f"logs-{stamp}"
    log_dir.mkdir()
    env_info = bench_report.environment(m.nofile, m.server_cpu, m.gen_cpu)
    runs: list[dict[str, Any]] = []
    # The smoke takes the cores for its whole run; a full run per server run (run_one).
    with cores_lock(300) if args.smoke else contextlib.nullcontext(0.0):
        for rep in range(1, reps + 1):
            for mode in args.modes.split(","):
                for server in servers:
                    print(f"== rep {rep}/{reps} {mode} {server.name}", file=sys.stderr, flush=True)
                    res = run_one(server, mode, plan[mode], m, log_dir / f"{server.name}.log")
                    runs.append({"rep": rep, "mode": mode, "server": server.name, "result": res})
    calibration = None
    if not args.smoke and not args.no_calibrate and "session" in args.modes:
        print("== generator ceiling: session against null-broadcast", file=sys.stderr, flush=True)
        calibration = run_one(NULL_SERVER, "session", plan["session"], m, log_dir / "null.log")
    data = {
        "kind": "smoke" if args.smoke else "full",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "environment": env_info,
        "notes": m.notes,
        "plan": {**plan, "reps": reps},
        "servers": {s.name: s.description for s in servers},
        "server_env": {"rtchat": RTCHAT_ENV},
        "runs": runs,
        "calibration": calibration,
        "server_logs": bench_report.scan_logs(log_dir),
    }
    summary = bench_report.summarize(data)
    data["summary"] = summary
    out_dir = args.out or (WORK if args.smoke else BENCH / "results")
    out_dir.mkdir(parents=True, exist_ok=True)
    base = out_dir / f"{time.strftime('%Y-%m-%d', time.gmtime(started))}-{env_info['machine']}"
    if args.smoke:
        base = base.with_name(base.name + "-smoke")
    base.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    markdown = bench_report.markdown(data)
    base.with_suffix(".md").write_text(markdown)
    if not args.smoke and args.out is None:
        bench_report.update_performance_doc(REPO / "docs" / "PERFORMANCE.md", data, base)
    print(markdown if not args.smoke else bench_report.failures_text(data))
    print(f"report: {base}.md / .json", file=sys.stderr)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
