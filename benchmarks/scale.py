"""How the cost grows with connections (issue #13): to a process's open-file limit, then
100,000 on one machine across `rtchat serve --workers`, with a broadcast at every step.

    python benchmarks/scale.py              # full run: writes benchmarks/results/*-scale.*
    python benchmarks/scale.py --smoke      # small stages, fails on any loss; nothing kept

Each step opens more idle Socket.IO clients (namespace connect only), from several
generator processes (benchmarks/scalegen.js), each under the same open-file limit and on
loopback source addresses of its own (127.0.2.1 and up, a thousand sockets on each) so that
no address runs short of ephemeral ports. At each step: accepts per second, the server's
RSS per connection (all its processes), then a broadcast to every connection (the seed's
room: every client hears `send-message`) with deliveries per second, server CPU per
delivery and exactly-once checked at every client. The Node seed server goes through the
single-process steps (it is one process: the open-file limit bounds it as it bounds one
rtchat process); the report says where a server stopped and why.

Servers are pinned to one core and the generators to the other, except the workers run,
which may use both (its generators share a core with them: the report says so). Only
127.0.0.1 is served; every wait is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bench_report
import perf_doc
import procs
import run as bench
import scale_report
from deployments import BENCH, RTCHAT_ENV, VENV_BIN, Deployment, NodeContext, _rtchat

SERVERS = "rtchat-sqlite,node-seed,rtchat-workers"

SCALEGEN = BENCH / "scalegen.js"
WORKERS_TARGET = 100_000
# Every broadcast delivers about this many messages in all (a message per connection), so
# small and big steps are measured over about the same amount of work.
DELIVERIES_PER_BROADCAST = 1_000_000
MESSAGES_MIN, MESSAGES_MAX = 10, 20_000
# Sockets per loopback source address (see scalegen.js for why so few).
PER_ADDRESS = 1000
# p99 against offered load: run.py's S3 (1,000 clients hearing every message, latency read
# at the probe clients) at rising rates, messages/s, until the server no longer keeps up.
CURVE_RATES = [10, 20, 50, 100, 200, 400]
CURVE_SECONDS = 5
# Latency in a room of PROBE_MEMBERS while everyone else is connected (rtchat only: the
# seed's server has no rooms). Its members join before the first step bigger than the
# room, so that their joins are announced to few; from then on they count in every step.
PROBE_MEMBERS = 1000
PROBE_ROOM = "probe"
PROBE_MESSAGES, PROBE_RATE = 100, 50.0


@dataclass(frozen=True)
class Plan:
    stages: list[int]  # single process; the last one just under the open-file limit
    workers_steps: list[int]  # across workers; the last is the machine-wide target
    deliveries: int
    inflight: int  # handshakes in flight per generator process
    settle_s: float
    stall_s: float
    reps: int
    probe_members: int


FULL = Plan(
    [10, 100, 1000, 5000, 10_000],
    [20_000, 50_000, WORKERS_TARGET],
    DELIVERIES_PER_BROADCAST,
    200,
    2.0,
    10.0,
    3,
    PROBE_MEMBERS,
)
SMOKE = Plan([10, 100, 400], [600, 1200], 20_000, 50, 0.2, 5.0, 1, 50)


def _rtchat_sqlite(_ctx: NodeContext) -> dict[str, str]:
    return {**RTCHAT_ENV, "RTCHAT_DATABASE_URL": "sqlite:///bench.db"}


def _workers_env(ctx: NodeContext) -> dict[str, str]:
    assert ctx.redis_url is not None
    return {**_rtchat_sqlite(ctx), "RTCHAT_REDIS_URL": ctx.redis_url}


def workers_deployment(workers: int) -> Deployment:
    return Deployment(
        f"rtchat-workers{workers}",
        "scale",
        f"rtchat serve --workers {workers}: one SQLite file, a private Redis; may use both cores",
        lambda ctx: [*_rtchat(ctx), "--workers", str(workers)],
        _workers_env,
        redis=True,
        cores="all",
    )


def single_deployments() -> list[Deployment]:
    return [
        Deployment(
            "rtchat-sqlite", "scale", "rtchat serve, one process, SQLite", _rtchat, _rtchat_sqlite
        ),
        bench.BY_NAME["node-seed"],
    ]


# ---------------------------------------------------------------- generator processes


class Generator:
    """One scalegen.js process, spoken to in JSON lines."""

    def __init__(self, proc: asyncio.subprocess.Process, address: str) -> None:
        self.proc = proc
        self.address = address
        self.open = 0

    @classmethod
    async def start(
        cls, port: int, addresses: list[str], inflight: int, pin: list[str]
    ) -> Generator:
        conf = json.dumps({"port": port, "localAddresses": addresses, "inflight": inflight})
        proc = await asyncio.create_subprocess_exec(
            *pin,
            "node",
            str(SCALEGEN),
            conf,
            cwd=BENCH,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        return cls(proc, addresses[0])

    async def ask(self, timeout_s: float, **cmd: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        assert self.proc.stdout is not None
        self.proc.stdin.write((json.dumps(cmd) + "\n").encode())
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        if not line:
            raise RuntimeError(f"generator {self.address} exited ({self.proc.returncode})")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def stop(self) -> None:
        if self.proc.returncode is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def generators_for(target: int, nofile: int) -> int:
    """Generator processes for `target` connections: each under the open-file limit."""
    return max(2, math.ceil(target / (nofile - bench.LIMIT_MARGIN)))


def shares(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


# ---------------------------------------------------------------- /proc readings


def rss_kb(pids: list[int]) -> dict[int, int]:
    out = {}
    for pid in pids:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                out[pid] = int(line.split()[1])
    return out


def server_pids(run: bench.Running) -> list[int]:
    """The server's processes: the supervisor and its workers, or the one process."""
    return [p for n in run.nodes for p in procs.session_pids(n.pid)]


# ---------------------------------------------------------------- one run


@dataclass
class Stepper:
    run: bench.Running
    plan: Plan
    machine: bench.Machine
    gens: list[Generator] = field(default_factory=list)
    sender: Generator | None = None
    probe: Generator | None = None
    probe_open: int = 0
    phase: int = 0

    async def start(self, n_gens: int, per_gen: int, pin: list[str]) -> None:
        port = self.run.entry_ports()[0]
        self.sender = await Generator.start(port, ["127.0.0.1"], 1, pin)
        n_addr = max(1, math.ceil(per_gen / PER_ADDRESS))
        self.gens = [
            await Generator.start(
                port, [f"127.0.{2 + i}.{1 + k}" for k in range(n_addr)], self.plan.inflight, pin
            )
            for i in range(n_gens)
        ]
        opened = await self.sender.ask(60, cmd="open", n=1)
        if opened["opened"] != 1:
            raise RuntimeError(f"the sender could not connect: {opened['errors']}")
        await self.sender.ask(10, cmd="join", name="scale-sender")

    async def stop(self) -> None:
        for g in [
            *self.gens,
            *([self.sender] if self.sender else []),
            *([self.probe] if self.probe else []),
        ]:
            await g.stop()

    @property
    def everyone(self) -> list[Generator]:
        assert self.sender is not None
        return [self.sender, *self.gens, *([self.probe] if self.probe else [])]

    async def start_probe(self, pin: list[str]) -> dict[str, Any]:
        """The probe room: created by the sender, joined by PROBE_MEMBERS clients."""
        assert self.sender is not None
        port = self.run.entry_ports()[0]
        created = await self.sender.ask(
            30, cmd="call", event="create-room", arg={"name": PROBE_ROOM}
        )
        if '"ok":true' not in created["answer"]:
            raise RuntimeError(f"create-room: {created['answer'][:200]}")
        self.probe = await Generator.start(port, ["127.0.1.1"], self.plan.inflight, pin)
        opened = await self.probe.ask(120, cmd="open", n=self.plan.probe_members)
        joined = await self.probe.ask(
            300, cmd="members", n=self.plan.probe_members, room=PROBE_ROOM, prefix="probe"
        )
        self.probe_open = opened["open"]
        if joined["joined"] != self.plan.probe_members:
            raise RuntimeError(f"probe room: {joined['joined']} joined: {joined['errors']}")
        await self.settle_user_connected(self.plan.probe_members)
        return {"members": joined["joined"]}

    async def probe_latency(self) -> dict[str, Any]:
        """PROBE_MESSAGES to the probe room at PROBE_RATE; latency at its members."""
        assert self.sender is not None
        assert self.probe is not None
        self.phase += 1
        await self.probe.ask(
            10, cmd="watch", phase=self.phase, messages=PROBE_MESSAGES, latency=True
        )
        await self.sender.ask(
            PROBE_MESSAGES / PROBE_RATE + 30,
            cmd="pace",
            phase=self.phase,
            messages=PROBE_MESSAGES,
            rate=PROBE_RATE,
            room=PROBE_ROOM,
        )
        end = time.monotonic() + self.plan.stall_s
        while time.monotonic() < end:
            p = await self.probe.ask(30, cmd="progress")
            if p["complete"] >= self.probe_open:
                break
            await asyncio.sleep(0.02)
        lat = await self.probe.ask(30, cmd="latency")
        expected = PROBE_MESSAGES * self.probe_open
        return {
            **lat,
            "expected": expected,
            "rate": PROBE_RATE,
            "messages": PROBE_MESSAGES,
            "ok": lat["delivered"] == expected and p["dups"] == 0 and p["gaps"] == 0,
        }

    async def open_to(self, target: int) -> dict[str, Any]:
        have = sum(g.open for g in self.gens) + self.probe_open
        need = target - have
        t0 = time.monotonic()
        answers = await asyncio.gather(
            *(
                g.ask(600, cmd="open", n=k)
                for g, k in zip(self.gens, shares(need, len(self.gens)), strict=True)
            )
        )
        wall = time.monotonic() - t0
        for g, a in zip(self.gens, answers, strict=True):
            g.open = a["open"]
        failed = sum(a["failed"] for a in answers)
        errors = [e for a in answers for e in a["errors"]][:5]
        return {
            "opened": need - failed,
            "failed": failed,
            "seconds": wall,
            "accepts_per_s": (need - failed) / wall if wall > 0 else None,
            "errors": errors,
        }

    async def progress(self) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(g.ask(30, cmd="progress") for g in self.everyone)))

    async def settle_user_connected(self, joins: int = 1) -> None:
        """Every `user-connected` of `joins` joins reached every idle client before a
        broadcast is measured."""
        end = time.monotonic() + max(self.plan.stall_s, joins * 0.05)
        while time.monotonic() < end:
            ps = await asyncio.gather(*(g.ask(30, cmd="progress") for g in self.gens))
            if sum(p["userConnected"] for p in ps) >= joins * sum(p["open"] for p in ps):
                return
            await asyncio.sleep(0.05)

    async def broadcast(self, members: int) -> dict[str, Any]:
        """Messages from the sender to the room every connection hears; measured."""
        assert self.sender is not None
        messages = min(MESSAGES_MAX, max(MESSAGES_MIN, round(self.plan.deliveries / members)))
        self.phase += 1
        for g in self.everyone:
            await g.ask(10, cmd="watch", phase=self.phase, messages=messages)
        groups = self.run.cpu_groups()
        pids = server_pids(self.run)
        kernel0 = {p: procs.kernel_jiffies_and_writes(p) for p in pids}
        cpu0 = bench.cpu_snapshot(groups)
        sent = await self.sender.ask(60, cmd="send", phase=self.phase, messages=messages)
        expected = members * messages
        last_change, last_delivered = time.monotonic(), -1
        deadline = time.monotonic() + 300
        while True:
            ps = await self.progress()
            delivered = sum(p["delivered"] for p in ps)
            complete = sum(p["complete"] for p in ps)
            if complete >= members or time.monotonic() > deadline:
                break
            if delivered != last_delivered:
                last_change, last_delivered = time.monotonic(), delivered
            elif time.monotonic() - last_change > self.plan.stall_s:
                break
            await asyncio.sleep(0.02)
        cpu = bench.cpu_seconds(cpu0, bench.cpu_snapshot(groups))
        kernel1 = {p: procs.kernel_jiffies_and_writes(p) for p in pids}
        counted = sum(cpu[g["name"]] for g in groups if g["counted"])
        # The server's own processes (not Redis): time in the kernel, and write calls.
        kernel_s = sum(kernel1[p][0] - kernel0[p][0] for p in pids) / os.sysconf("SC_CLK_TCK")
        writes = sum(kernel1[p][1] - kernel0[p][1] for p in pids)
        wall_s = (max(p["lastMs"] for p in ps) - sent["atMs"]) / 1000
        dups, gaps = sum(p["dups"] for p in ps), sum(p["gaps"] for p in ps)
        return {
            "members": members,
            "messages": messages,
            "expected": expected,
            "delivered": delivered,
            "complete_clients": complete,
            "duplicated": dups,
            "gaps": gaps,
            "lost": max(0, expected - delivered + dups),
            "seconds": wall_s,
            "deliveries_per_s": delivered / wall_s if wall_s > 0 else None,
            "server_cpu_s": counted,
            "cpu_s_by_process": cpu,
            "server_cpu_us_per_delivery": 1e6 * counted / delivered if delivered else None,
            "server_kernel_cpu_s": kernel_s,
            "server_write_calls": writes,
            "write_calls_per_delivery": writes / delivered if delivered else None,
            "ok": delivered == expected and dups == 0 and gaps == 0,
        }


async def run_steps(
    dep: Deployment, targets: list[int], plan: Plan, m: bench.Machine, log: Path, rtchat: Path
) -> dict[str, Any]:
    """Start `dep`, go through `targets` (connections), stop; one result per step."""
    n_gens = generators_for(max(targets), m.nofile[0])
    out: dict[str, Any] = {"server": dep.name, "generators": n_gens, "steps": [], "ok": True}
    with tempfile.TemporaryDirectory(prefix=f"rtchat-scale-{dep.name}-") as tmp:
        run = bench.Running(dep)
        stepper = Stepper(run, plan, m)
        try:
            bench.start_deployment(dep, m, Path(tmp), log, rtchat, run)
            await asyncio.sleep(0.3)
            await stepper.start(n_gens, math.ceil(max(targets) / n_gens), m.pin(m.gen_cpu))
            await asyncio.sleep(plan.settle_s)
            base = rss_kb(server_pids(run))
            out["rss_base_kb"] = sum(base.values())
            out["processes"] = len(base)
            out["rss_base_kb_by_process"] = sorted(base.values())
            probing = dep.name.startswith("rtchat")
            for target in targets:
                if probing and stepper.probe is None and target > plan.probe_members:
                    out["probe_room"] = await stepper.start_probe(m.pin(m.gen_cpu))
                step: dict[str, Any] = {"target": target, **await stepper.open_to(target)}
                await asyncio.sleep(plan.settle_s)
                rss = rss_kb(server_pids(run))
                open_now = sum(g.open for g in stepper.gens) + stepper.probe_open
                step |= {
                    "open": open_now,
                    "rss_kb": sum(rss.values()),
                    "rss_kb_by_process": sorted(rss.values()),
                    "rss_per_conn_kb": (sum(rss.values()) - out["rss_base_kb"]) / open_now
                    if open_now
                    else None,
                }
                step["broadcast"] = await stepper.broadcast(open_now + 1)  # + the sender
                if stepper.probe is not None:
                    step["probe"] = await stepper.probe_latency()
                    if not step["probe"]["ok"]:
                        out["ok"] = False
                out["steps"].append(step)
                print(
                    f"   {dep.name} {target:,}: {open_now:,} open, "
                    f"{step['accepts_per_s'] or 0:,.0f} accepts/s, "
                    f"{step['rss_per_conn_kb'] or 0:.2f} KB/conn, "
                    f"{step['broadcast']['server_cpu_us_per_delivery'] or 0:.3f} us/delivery",
                    file=sys.stderr,
                    flush=True,
                )
                if open_now < target:
                    out["stopped"] = {
                        "at": open_now,
                        "target": target,
                        "errors": step["errors"],
                        "log": bench_report.scan_logs(log.parent).get(log.stem),
                    }
                    break
                if not step["broadcast"]["ok"]:
                    out["ok"] = False
        except Exception as e:  # the report says what failed; the next run goes on
            out["ok"] = False
            out.setdefault("errors", []).append(f"{type(e).__name__}: {e}")
        finally:
            await stepper.stop()
            for problem in bench.stop_deployment(run):
                out.setdefault("errors", []).append(problem)
    return out


def latency_curve(
    dep: Deployment, smoke: bool, m: bench.Machine, log: Path, rtchat: Path
) -> dict[str, Any]:
    """S3 at every rate of CURVE_RATES on one server (after run.py's S4 join storm)."""
    base = bench.SMOKE["session"] if smoke else bench.FULL["session"]
    rates = CURVE_RATES[:2] if smoke else CURVE_RATES
    cfg = {**base, "s2Windows": [], "s3Rates": rates, "s3Seconds": 1 if smoke else CURVE_SECONDS}
    result = bench.run_one(dep, "session", cfg, m, log, rtchat)
    return {"server": dep.name, "clients": cfg["clients"], "result": result}


def limits(m: bench.Machine) -> dict[str, Any]:
    def read(path: str) -> str:
        try:
            return Path(path).read_text().strip()
        except OSError:
            return "unknown"

    return {
        "nofile_per_process": list(m.nofile),
        "ip_local_port_range": read("/proc/sys/net/ipv4/ip_local_port_range"),
        "somaxconn": read("/proc/sys/net/core/somaxconn"),
        "tcp_max_syn_backlog": read("/proc/sys/net/ipv4/tcp_max_syn_backlog"),
        "listen_backlog_rtchat": 4096,
        "source_addresses": f"127.0.0.1 (the sender); generator i on 127.0.(2+i).1 and up, "
        f"at most {PER_ADDRESS:,} sockets on each",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="small and quick; asserts no timings")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, smoke 1)")
    parser.add_argument(
        "--servers", default=SERVERS, help="which of rtchat-sqlite, node-seed, rtchat-workers"
    )
    parser.add_argument("--rtchat", type=Path, default=VENV_BIN / "rtchat")
    parser.add_argument("--out", type=Path, help="report directory (default: results/ or .work/)")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    reps = args.reps or plan.reps
    m = bench.prepare_machine()
    near_limit = (m.nofile[0] - bench.LIMIT_MARGIN) // 1000 * 1000
    stages = [*plan.stages, near_limit] if not args.smoke else plan.stages
    # As many workers as hold the target under the limit each, with room for the kernel's
    # uneven spread of connections over SO_REUSEPORT listeners.
    per_worker = m.nofile[0] - bench.LIMIT_MARGIN
    workers = max(2, math.ceil(plan.workers_steps[-1] * 1.1 / per_worker))
    chosen = args.servers.split(",")
    bench.ensure_npm_deps()
    bench.WORK.mkdir(exist_ok=True)
    started = time.time()
    log_dir = bench.WORK / f"scale-logs-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started))}"
    log_dir.mkdir()
    runs: list[dict[str, Any]] = []
    plan_for: list[tuple[Deployment, list[int]]] = []
    for dep in single_deployments():
        if dep.name in chosen:
            # The seed's server is one process, like rtchat's single runs: the open-file
            # limit is where both stop; the machine-wide steps need rtchat's --workers.
            plan_for.append((dep, stages))
    if "rtchat-workers" in chosen:
        plan_for.append((workers_deployment(workers), plan.workers_steps))
    curves: list[dict[str, Any]] = []
    for rep in range(1, reps + 1):
        for dep, targets in plan_for:
            print(f"== rep {rep}/{reps} {dep.name} {targets}", file=sys.stderr, flush=True)
            quiet = bench.wait_for_quiet(10 if not args.smoke else 0)
            res = asyncio.run(
                run_steps(dep, targets, plan, m, log_dir / f"{dep.name}.log", args.rtchat)
            )
            res["quiet_before"] = quiet
            runs.append({"rep": rep, **res})
        for dep in single_deployments():
            if dep.name in chosen:
                print(f"== rep {rep}/{reps} {dep.name} latency curve", file=sys.stderr, flush=True)
                log = log_dir / f"{dep.name}-curve.log"
                curves.append({"rep": rep, **latency_curve(dep, args.smoke, m, log, args.rtchat)})
    data = {
        "kind": "smoke" if args.smoke else "full",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "environment": bench_report.environment(
            m.nofile, m.server_cpu, m.gen_cpu, [d for d, _ in plan_for]
        ),
        "limits": limits(m),
        "notes": m.notes,
        "plan": {**plan.__dict__, "stages": stages, "reps": reps, "workers": workers},
        "servers": {d.name: d.description for d, _ in plan_for},
        "server_env": {"rtchat": RTCHAT_ENV},
        "runs": runs,
        "curves": curves,
        "curve_rates": CURVE_RATES,
        "server_logs": bench_report.scan_logs(log_dir),
    }
    data["summary"] = scale_report.summarize(data)
    out_dir = args.out or (bench.WORK if args.smoke else BENCH / "results")
    kind = "scale-smoke" if args.smoke else "scale"
    base = bench_report.write_json(data, out_dir, kind, started)
    if not args.smoke:
        scale_report.plots(data, base)
    base.with_suffix(".md").write_text(scale_report.markdown(data, base.name))
    # Only a whole run replaces the doc's figures.
    if not args.smoke and args.out is None and args.servers == SERVERS:
        perf_doc.point_doc_at(
            perf_doc.DOC, "scale", base.with_suffix(".json").relative_to(perf_doc.REPO).as_posix()
        )
        perf_doc.main([])
    print(f"report: {base}.md / .json", file=sys.stderr)
    failed = [r for r in runs if not r["ok"] and r["server"] != "node-seed"]
    failed += [c for c in curves if c["server"] != "node-seed" and not _curve_ok(c)]
    return 1 if failed else 0


def _curve_ok(curve: dict[str, Any]) -> bool:
    s3 = curve["result"].get("s3", [])
    return bool(s3) and all(p["ok"] for p in s3) and not curve["result"].get("errors")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
