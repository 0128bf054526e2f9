"""Measure rtchat side by side with the Node seed server and python-socketio.

    python benchmarks/run.py            # full run (3 repetitions), writes benchmarks/results/
    python benchmarks/run.py --smoke    # small version of every scenario, fails on any loss

Scenarios (--modes): idle (S1) and session (S4, S2, S3) on one node; cluster (the same on
two nodes sharing a private Redis, senders on node a); polling (long-polling clients through
HAProxy); workers (`rtchat serve --workers N`). The servers of each are in deployments.py.
Servers (and their Redis and HAProxy) are pinned to one core, the load generator
(benchmarks/loadgen.js) to the other. Deployments are interleaved within each repetition.
Everything talks to 127.0.0.1 only and every wait is bounded. See docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_report
import perf_doc
import procs
import report_md
import services
from deployments import (
    BY_NAME,
    DEPLOYMENTS,
    NODE_IDS,
    NULL_SERVER,
    RTCHAT_ENV,
    VENV_BIN,
    Deployment,
    NodeContext,
)

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LOADGEN = BENCH / "loadgen.js"
WORK = BENCH / ".work"
MODES = ("idle", "session", "cluster", "polling", "workers")
NPM_PACKAGES = ("express", "socket.io", "@socket.io/redis-adapter", "redis")

_SESSION: dict[str, Any] = {
    "clients": 1000,
    "inflight": 200,
    "s2Windows": [1, 50],
    "s2Seconds": 4,
    "s2MaxMessages": 200_000,
    "s3Rates": [20, 100],
    "s3Seconds": 8,
    "s3Senders": 10,
    # Idle clients in a process of their own that read S3's latency (loadgen.js, Probe).
    "s3Probes": 5,
    "s3MaxLagMs": 2000,
    "s3KeptUpDrainMs": 250,
    "drainTimeoutMs": 90_000,
    "stallMs": 10_000,
    "pauseMs": 500,
    "warmupTimeoutMs": 10_000,
    "deadlineS": 900,
    "quietWaitS": 10,
    "lockWaitS": 180,
}
# S1's last stage is "just under the per-process open-file limit" (issue #13): the limit
# less what each side needs besides its sockets (listeners, logs, the database, Redis,
# the generator's pipes), rounded down to a thousand.
LIMIT_MARGIN = 500
FULL: dict[str, Any] = {
    "reps": 3,
    "jobs": 1,
    "idle": {
        "stages": [1000, 5000, 10000],
        "toLimit": True,
        "settleMs": 2000,
        "inflight": 200,
        "deadlineS": 300,
        "quietWaitS": 10,
        "lockWaitS": 180,
    },
    "session": _SESSION,
    "cluster": _SESSION,
    # Every long-polling delivery is an HTTP answer through HAProxy: fewer clients.
    "polling": {**_SESSION, "clients": 200, "inflight": 50, "s3Rates": [20, 100]},
    "workers": _SESSION,
}
_SMOKE_SESSION: dict[str, Any] = {
    **_SESSION,
    "clients": 100,
    "inflight": 50,
    "s2Seconds": 0.5,
    "s2MaxMessages": 5000,
    "s3Rates": [20],
    "s3Seconds": 1,
    "drainTimeoutMs": 20_000,
    "stallMs": 5_000,
    "pauseMs": 100,
    "deadlineS": 120,
    "quietWaitS": 0,
    "lockWaitS": 0,
}
SMOKE: dict[str, Any] = {
    "reps": 1,
    # Two servers' runs at once: the smoke asserts no timings, and each run mostly waits.
    "jobs": 2,
    "idle": {
        "stages": [100, 200],
        "settleMs": 200,
        "inflight": 50,
        "deadlineS": 60,
        "quietWaitS": 0,
    },
    "session": {**_SMOKE_SESSION, "s3Rates": [20, 100]},
    "cluster": _SMOKE_SESSION,
    "polling": {**_SMOKE_SESSION, "clients": 50, "s2Seconds": 0.3},
    "workers": _SMOKE_SESSION,
}


@dataclass
class Machine:
    """Cores to pin to and the open-file limit, decided once per run."""

    server_cpu: int | None = None
    gen_cpu: int | None = None
    all_cpus: list[int] = field(default_factory=list)
    nofile: tuple[int, int] = (0, 0)
    notes: list[str] = field(default_factory=list)

    def pin(self, cpu: int | None) -> list[str]:
        return ["taskset", "-c", str(cpu)] if cpu is not None else []

    def pin_servers(self, dep: Deployment) -> list[str]:
        if dep.cores == "all" and self.server_cpu is not None:
            return ["taskset", "-c", ",".join(map(str, self.all_cpus))]
        return self.pin(self.server_cpu)


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
    m.all_cpus = cpus
    if len(cpus) >= 2 and shutil.which("taskset"):
        m.server_cpu, m.gen_cpu = cpus[0], cpus[1]
    else:
        m.notes.append(f"not pinned: {len(cpus)} usable CPU(s) or no taskset")
    return m


def ensure_npm_deps() -> None:
    """Install the pinned npm packages (benchmarks/package-lock.json) if missing."""
    if all((BENCH / "node_modules" / p).is_dir() for p in NPM_PACKAGES):
        return
    cmd = ["npm", "ci", "--prefix", str(BENCH), "--no-audit", "--no-fund", "--loglevel=error"]
    subprocess.run(cmd, check=True, timeout=600)


# ---------------------------------------------------------------- one deployment, started


@dataclass
class Running:
    """A deployment's processes while it runs, and what the generator needs of them."""

    dep: Deployment
    nodes: list[procs.Proc] = field(default_factory=list)
    extras: list[procs.Proc] = field(default_factory=list)  # redis, haproxy
    database: str | None = None

    @property
    def all(self) -> list[procs.Proc]:
        # Stopped in reverse: the balancer, then the nodes, then the Redis they talk to.
        redis = [p for p in self.extras if p.role == "redis"]
        return [*redis, *self.nodes, *(p for p in self.extras if p.role != "redis")]

    def entry_ports(self) -> list[int]:
        lb = [p for p in self.extras if p.role == "balancer"]
        return [lb[0].port] if lb else [n.port for n in self.nodes]

    def cpu_groups(self) -> list[dict[str, Any]]:
        """Whose CPU the generator reads; `counted` ones make the server CPU per delivery."""
        groups: list[dict[str, Any]] = [
            {"name": p.name, "sid": p.pid, "counted": p.role != "balancer"} for p in self.all
        ]
        if self.database is not None:
            groups += [
                {"name": "postgres", "pgDatabase": self.database, "counted": True},
                {"name": "postgres, all processes", "pgAll": True, "counted": False},
            ]
        return groups

    def placement(self, m: Machine) -> dict[str, str]:
        out = {p.name: procs.allowed_cpus(p.pid) for p in self.all}
        out["generator"] = str(m.gen_cpu) if m.gen_cpu is not None else "any"
        if self.database is not None:
            pg = procs.postgres_pids(self.database)
            out["postgres"] = ", ".join(sorted({procs.allowed_cpus(p) for p in pg})) or "none"
        return out


def start_deployment(
    dep: Deployment, m: Machine, tmp: Path, log_path: Path, rtchat: Path, run: Running
) -> None:
    """Start what `dep` needs into `run` (which the caller stops, whatever happens)."""
    redis_url = db_url = None
    if dep.postgres:
        run.database = services.create_database()
        db_url = services.database_url(run.database)
    if dep.redis:
        # Its own log: its start-up warnings are the machine's, not the servers'.
        redis_log = log_path.with_name(log_path.stem + "-redis.log")
        redis = services.start_redis(tmp, redis_log, m.pin(m.server_cpu))
        run.extras.append(redis)
        redis_url = f"redis://127.0.0.1:{redis.port}/0"
    for i in range(dep.nodes):
        node_tmp = tmp / f"node-{NODE_IDS[i]}"
        node_tmp.mkdir()
        port = procs.free_port()
        ctx = NodeContext(i, NODE_IDS[i], port, node_tmp, redis_url, db_url, rtchat)
        name = f"node {NODE_IDS[i]}" if dep.nodes > 1 else "server"
        run.nodes.append(
            procs.spawn(
                name,
                "server",
                m.pin_servers(dep) + dep.argv(ctx),
                port,
                env={**os.environ, **dep.env(ctx)},
                cwd=node_tmp,
                log_path=log_path,
                stdout_to_log=dep.stdout_to_log,
            )
        )
    if dep.balancer is not None:
        backends = [(NODE_IDS[i], n.port) for i, n in enumerate(run.nodes)]
        run.extras.append(
            services.start_haproxy(
                backends, dep.balancer == "sticky", tmp, log_path, m.pin(m.server_cpu)
            )
        )


def stop_deployment(run: Running) -> list[str]:
    """Stop every process and drop the database; returns what could not be cleaned."""
    problems = []
    procs.stop_all(run.all)
    if run.database is not None:
        try:
            services.drop_database(run.database)
        except Exception as e:  # reported, and the run goes on with the next deployment
            problems.append(f"could not drop database {run.database}: {e}")
    return problems


# ---------------------------------------------------------------- the generator


def _group_pids(group: dict[str, Any]) -> list[int]:
    if "sid" in group:
        return procs.session_pids(group["sid"])
    return procs.postgres_pids(group.get("pgDatabase"))


def cpu_snapshot(groups: list[dict[str, Any]]) -> dict[str, dict[int, int]]:
    return {g["name"]: {p: procs.cpu_jiffies(p) for p in _group_pids(g)} for g in groups}


def cpu_seconds(a: dict[str, dict[int, int]], b: dict[str, dict[int, int]]) -> dict[str, float]:
    clk = os.sysconf("SC_CLK_TCK")
    return {
        name: sum(t - a[name].get(pid, 0) for pid, t in pids.items()) / clk
        for name, pids in b.items()
    }


def run_generator(
    mode: str, cfg: dict[str, Any], run: Running, m: Machine, warmup: int
) -> dict[str, Any]:
    """Run loadgen.js against a running deployment; returns its result plus machine load."""
    clk = os.sysconf("SC_CLK_TCK")
    groups = run.cpu_groups()
    gen_cfg = {
        **cfg,
        "mode": "idle" if mode == "idle" else "session",
        "ports": run.entry_ports(),
        "transport": run.dep.transport,
        "serverPid": run.nodes[0].pid,
        "cpuGroups": groups,
        "warmup": warmup,
        "clkTck": clk,
    }
    argv = [*m.pin(m.gen_cpu), "node", str(LOADGEN), json.dumps(gen_cfg)]
    busy0, cpu0, t0 = procs.machine_busy_jiffies(), cpu_snapshot(groups), time.monotonic()
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
    by_group = cpu_seconds(cpu0, cpu_snapshot(groups))
    busy_s = (procs.machine_busy_jiffies() - busy0) / clk
    # "postgres, all processes" holds the run's backends too: not added twice.
    ours = sum(v for k, v in by_group.items() if k != "postgres")
    counted = sum(by_group[g["name"]] for g in groups if g["counted"])
    # CPU used by everything else on the machine meanwhile (other engineers' test runs...)
    result["machine"] = {
        "wall_s": wall,
        "busy_cores": busy_s / wall,
        "server_cores": counted / wall,
        "cores_by_process": {k: v / wall for k, v in by_group.items()},
        "generator_cores": gen_s / wall,
        "other_cores": max(0.0, busy_s - ours - gen_s) / wall,
        "loadavg": Path("/proc/loadavg").read_text().split()[:3],
    }
    for proc in run.all:
        if proc.popen.poll() is not None:
            result["ok"] = False
            result.setdefault("errors", []).append(
                f"{proc.name} exited with {proc.popen.returncode}"
            )
    return result


# ---------------------------------------------------------------- one run


def wait_for_quiet(max_wait_s: float, busy_limit: float = 0.3) -> dict[str, float]:
    """On a shared machine, wait (bounded) until other work uses less than busy_limit cores.

    Sampled over 0.5 s windows while nothing of ours runs; returns how long it waited and the
    last busy level seen, for the report.
    """
    clk = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    busy = 0.0
    while True:
        b0, t0 = procs.machine_busy_jiffies(), time.monotonic()
        time.sleep(0.5)
        busy = (procs.machine_busy_jiffies() - b0) / clk / (time.monotonic() - t0)
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
    dep: Deployment, mode: str, cfg: dict[str, Any], m: Machine, log_path: Path, rtchat: Path
) -> dict[str, Any]:
    lock = cores_lock(cfg["lockWaitS"]) if cfg.get("lockWaitS") else contextlib.nullcontext(0.0)
    with lock as waited:
        result = _run_one(dep, mode, cfg, m, log_path, rtchat)
        result["lock_wait_s"] = waited
        return result


def _run_one(
    dep: Deployment, mode: str, cfg: dict[str, Any], m: Machine, log_path: Path, rtchat: Path
) -> dict[str, Any]:
    quiet = wait_for_quiet(cfg["quietWaitS"]) if cfg.get("quietWaitS") else None
    with tempfile.TemporaryDirectory(prefix=f"rtchat-bench-{dep.name}-") as tmp:
        run = Running(dep)
        try:
            try:
                start_deployment(dep, m, Path(tmp), log_path, rtchat, run)
            except Exception as e:  # a server, Redis, HAProxy or PostgreSQL refused to start
                return {"ok": False, "errors": [str(e)], "start_failed": True}
            time.sleep(0.3)
            result = run_generator(mode, cfg, run, m, dep.nodes if dep.nodes > 1 else 0)
            result["quiet_before"] = quiet
            result["placement_cores"] = run.placement(m)
            if run.database is not None:
                result["postgres_backends"] = {
                    "pg_stat_activity": services.backend_pids(run.database),
                    "process_titles": sorted(procs.postgres_pids(run.database)),
                }
        finally:
            cleanup = stop_deployment(run)
        if cleanup:
            result.setdefault("errors", []).extend(cleanup)
            result["ok"] = False
        # What each node left in its scratch dir: shows whether storage was really on.
        result["scratch_files"] = {
            str(p.relative_to(tmp)): p.stat().st_size
            for p in Path(tmp).rglob("*")
            if p.is_file() and p.name != "haproxy.cfg"
        }
        return result


# ---------------------------------------------------------------- main


def select(servers: str | None, modes: list[str]) -> tuple[list[Deployment], list[str]]:
    """The deployments to run, and for the report the pending ones left out."""
    if servers:
        wanted = servers.split(",")
        unknown = [w for w in wanted if w not in BY_NAME]
        if unknown:
            raise SystemExit(f"unknown server(s): {', '.join(unknown)}")
        return [BY_NAME[w] for w in wanted], []
    chosen = [d for d in DEPLOYMENTS if d.pending is None and set(d.modes) & set(modes)]
    left = [
        f"{d.name}: waits for {d.pending}"
        for d in DEPLOYMENTS
        if d.pending is not None and set(d.modes) & set(modes)
    ]
    return chosen, left


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="small and quick; asserts no timings")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, smoke 1)")
    parser.add_argument(
        "--jobs",
        type=int,
        help="servers run at once (default 1, smoke 2): only where timings do not matter, as "
        "they share the pinned cores",
    )
    parser.add_argument(
        "--servers",
        help="comma-separated deployments, pending ones included (default: every one that is "
        "not pending): " + ", ".join(d.name for d in DEPLOYMENTS),
    )
    parser.add_argument(
        "--modes",
        default="idle,session,cluster,polling,workers",
        help="idle (S1), session (S4, S2, S3 on one node), cluster (two nodes), polling "
        "(through HAProxy), workers (rtchat --workers N)",
    )
    parser.add_argument(
        "--rtchat",
        type=Path,
        default=VENV_BIN / "rtchat",
        help="the rtchat executable under test (default: this venv's)",
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
    modes = args.modes.split(",")
    if set(modes) - set(MODES):
        parser.error(f"unknown mode in {args.modes!r}")
    deployments, left_out = select(args.servers, modes)
    m = prepare_machine()
    near_limit = (m.nofile[0] - LIMIT_MARGIN) // 1000 * 1000
    if plan["idle"].get("toLimit") and near_limit > max(plan["idle"]["stages"]):
        stages = [*plan["idle"]["stages"], near_limit]
        m.notes.append(f"S1's last stage {near_limit:,}: open-file limit {m.nofile[0]:,}")
        plan = {**plan, "idle": {**plan["idle"], "stages": stages}}
    if m.nofile[0] < max(plan["idle"]["stages"]) + 200:
        keep = [n for n in plan["idle"]["stages"] if n + 200 <= m.nofile[0]]
        m.notes.append(f"S1 limited to {keep}: open-file limit {m.nofile[0]}")
        plan = {**plan, "idle": {**plan["idle"], "stages": keep}}
    ensure_npm_deps()
    WORK.mkdir(exist_ok=True)
    started = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(started))
    log_dir = WORK / f"logs-{stamp}-{os.getpid()}"
    log_dir.mkdir()
    env_info = bench_report.environment(m.nofile, m.server_cpu, m.gen_cpu, deployments)
    order = [
        (rep, mode, dep)
        for rep in range(1, reps + 1)
        for mode in modes
        for dep in deployments
        if mode in dep.modes
    ]

    def run_server(lane: list[tuple[int, str, Deployment]]) -> list[dict[str, Any]]:
        out = []
        for rep, mode, dep in lane:
            print(f"== rep {rep}/{reps} {mode} {dep.name}", file=sys.stderr, flush=True)
            res = run_one(dep, mode, plan[mode], m, log_dir / f"{dep.name}.log", args.rtchat)
            out.append({"rep": rep, "mode": mode, "server": dep.name, "result": res})
        return out

    jobs = args.jobs or plan["jobs"]
    # One at a time, deployments interleaved within each repetition; with --jobs, a server's
    # runs still go one at a time and in order (they share its log), other servers' beside.
    lanes: dict[str, list[tuple[int, str, Deployment]]] = {}
    for item in order:
        lanes.setdefault(item[2].name if jobs > 1 else "", []).append(item)
    # The smoke takes the cores for its whole run; a full run per server run (run_one).
    with (
        cores_lock(300) if args.smoke else contextlib.nullcontext(0.0),
        ThreadPoolExecutor(max_workers=jobs) as pool,
    ):
        done = [run for lane in pool.map(run_server, lanes.values()) for run in lane]
    position = {(rep, mode, dep.name): i for i, (rep, mode, dep) in enumerate(order)}
    runs = sorted(done, key=lambda r: position[r["rep"], r["mode"], r["server"]])
    calibration = None
    if not args.smoke and not args.no_calibrate and "session" in modes:
        print("== generator ceiling: session against null-broadcast", file=sys.stderr, flush=True)
        calibration = run_one(
            NULL_SERVER, "session", plan["session"], m, log_dir / "null.log", args.rtchat
        )
    ran = {r["server"] for r in runs}
    data = {
        "kind": "smoke" if args.smoke else "full",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "environment": env_info,
        "notes": m.notes,
        "plan": {**plan, "reps": reps},
        "modes": modes,
        "servers": {d.name: d.description for d in deployments if d.name in ran},
        "groups": {d.name: d.group for d in deployments if d.name in ran},
        "left_out": left_out,
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
    markdown = report_md.markdown(data)
    base.with_suffix(".md").write_text(markdown)
    # Only a whole run replaces the doc's figures: a subset would blank the rest.
    if not args.smoke and args.out is None and args.servers is None and set(modes) == set(MODES):
        perf_doc.refresh(REPO / "docs" / "PERFORMANCE.md", base.with_suffix(".json"))
    print(markdown if not args.smoke else bench_report.failures_text(data))
    print(f"report: {base}.md / .json", file=sys.stderr)
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
