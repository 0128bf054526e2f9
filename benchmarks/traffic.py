"""Real chat traffic (issue #13): 10,000 users in 1,000 rooms of 10 plus `general`, a steady
mix of messages, typing reports, visits to other rooms and reconnects, against rtchat (SQLite)
and a Node socket.io server with rooms written the idiomatic way (servers/rooms_server.js).

    python benchmarks/traffic.py             # full run: writes benchmarks/results/*-traffic.*
    python benchmarks/traffic.py --smoke     # 200 users, a few seconds; fails on any loss

Set-up (every user connects, joins under a name of its own and creates or joins its room) is
not measured; it is done once per server (every join is announced to every connection, so
it costs far more than a window), and the repetitions are windows of steady traffic after it,
at the rates below, from several generator
processes (benchmarks/trafficgen.js) on loopback source addresses of their own. Latency is a
message's send (at its sender) to its receipt at each other member, on the wall clock every
generator process shares; the sender's own echo is left out. Exactly-once is checked per
receiver for its home room and general against every seq acknowledged in the window. A
reconnecting rtchat client presents its token and asks `sync` for what came after the last
seq it saw; the Node server has no such thing, so what its reconnecting clients miss is lost,
and the report counts it.

Servers on one core, the generators on the other; only 127.0.0.1 is served, every wait is
bounded.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import bench_report
import perf_doc
import procs
import run as bench
import scale
import traffic_report
from deployments import BENCH, RTCHAT_ENV, VENV_BIN, Deployment, NodeContext, _rtchat

TRAFFICGEN = BENCH / "trafficgen.js"
SERVERS = "rtchat-sqlite,node-rooms"

# The chat: 10,000 users in rooms of 10 (1,000 rooms), everyone also in `general`.
USERS = 10_000
ROOM_SIZE = 10
# 1% of the users are talking: each posts to its room every 2 s (50 messages/s, so 500 room
# deliveries/s counting the echo), with a typing report 1 s before each message.
SENDER_FRACTION = 0.01
SEND_INTERVAL_S = 2.0
TYPING_LEAD_S = 1.0
# One message to general (everyone) every 5 s: 2,000 deliveries/s at 10,000 users.
GENERAL_INTERVAL_S = 5.0
# Churn: 1 user a second drops its connection and is back 1 s later (each reconnect
# announces `user-disconnected` and `user-connected` to everyone, as the seed does); 1 user
# a second visits another room (join-room), stays 5 s and leaves it.
RECONNECTS_PER_S = 1.0
RECONNECT_AFTER_S = 1.0
VISITS_PER_S = 1.0
VISIT_S = 5.0
GENERATORS = 4
SETUP_FAILURES_MAX = 0.01  # of the users; beyond, the server is not measured
PER_ADDRESS = scale.PER_ADDRESS


@dataclass(frozen=True)
class Plan:
    users: int
    room_size: int
    sender_fraction: float
    send_interval_s: float
    typing_lead_s: float
    general_interval_s: float
    reconnects_per_s: float
    reconnect_after_s: float
    visits_per_s: float
    visit_s: float
    window_s: float
    reps: int
    generators: int
    inflight: int  # set-up joins in flight per generator
    timeout_s: float  # a handshake or an answer, set-up included
    settle_s: float  # after set-up, before the window
    drain_timeout_s: float

    @property
    def rooms(self) -> int:
        return math.ceil(self.users / self.room_size)

    @property
    def senders(self) -> int:
        return max(1, round(self.users * self.sender_fraction))

    def rates(self) -> dict[str, float]:
        """What the plan offers per second, as the report states it."""
        room_msgs = self.senders / self.send_interval_s
        general_msgs = 1 / self.general_interval_s
        return {
            "room_messages_per_s": room_msgs,
            "room_deliveries_per_s": room_msgs * self.room_size,
            "general_messages_per_s": general_msgs,
            "general_deliveries_per_s": general_msgs * self.users,
            "typing_reports_per_s": room_msgs,
            "typing_deliveries_per_s": room_msgs * (self.room_size - 1),
            "reconnects_per_s": self.reconnects_per_s,
            "presence_deliveries_per_s": 2 * self.reconnects_per_s * self.users,
            "visits_per_s": self.visits_per_s,
        }


FULL = Plan(
    USERS,
    ROOM_SIZE,
    SENDER_FRACTION,
    SEND_INTERVAL_S,
    TYPING_LEAD_S,
    GENERAL_INTERVAL_S,
    RECONNECTS_PER_S,
    RECONNECT_AFTER_S,
    VISITS_PER_S,
    VISIT_S,
    window_s=30.0,
    reps=3,
    generators=GENERATORS,
    inflight=25,
    timeout_s=180.0,
    settle_s=3.0,
    drain_timeout_s=30.0,
)
# Small and quick, with more of its users talking and churning so that a few seconds hold
# enough of every kind of traffic to fail on.
SMOKE = Plan(
    200,
    ROOM_SIZE,
    0.1,
    1.0,
    0.3,
    1.0,
    4.0,
    0.5,
    4.0,
    1.0,
    window_s=4.0,
    reps=1,
    generators=2,
    inflight=50,
    timeout_s=30.0,
    settle_s=0.5,
    drain_timeout_s=10.0,
)


RTCHAT_TRAFFIC_ENV = {**RTCHAT_ENV, "RTCHAT_DATABASE_URL": "sqlite:///bench.db"}


def _rtchat_env(_ctx: NodeContext) -> dict[str, str]:
    return RTCHAT_TRAFFIC_ENV


def _node_rooms(_ctx: NodeContext) -> list[str]:
    return ["node", str(BENCH / "servers" / "rooms_server.js")]


def _node_rooms_env(ctx: NodeContext) -> dict[str, str]:
    return {"PORT": str(ctx.port), "HOST": "127.0.0.1"}


DEPLOYMENTS = [
    Deployment(
        "rtchat-sqlite",
        "traffic",
        "rtchat serve, one process, SQLite (every message stored before it is broadcast)",
        _rtchat,
        _rtchat_env,
    ),
    Deployment(
        "node-rooms",
        "traffic",
        "socket.io with socket.io rooms, in memory (benchmarks/servers/rooms_server.js)",
        _node_rooms,
        _node_rooms_env,
    ),
]


def users_for(plan: Plan, gen: int) -> list[dict[str, Any]]:
    """Generator `gen`'s users: user i is in room i // room_size and on generator i % gens;
    the first of each room creates it. One user in every block of 1/sender_fraction talks, at
    an offset that moves from block to block, so the talkers are spread over the rooms of
    the block and over the generators."""
    every = max(1, round(1 / plan.sender_fraction))
    return [
        {
            "name": f"u{i}",
            "room": f"r{i // plan.room_size:04d}",
            "create": i % plan.room_size == 0,
            "sender": i % every == (every // 2 + 11 * (i // every)) % every,
        }
        for i in range(gen, plan.users, plan.generators)
    ]


# ---------------------------------------------------------------- one run


async def start_generators(
    port: int, plan: Plan, recover: bool, pin: list[str]
) -> list[scale.Generator]:
    per_gen = math.ceil(plan.users / plan.generators)
    n_addr = max(1, math.ceil(per_gen / PER_ADDRESS))
    gens = []
    for g in range(plan.generators):
        conf: dict[str, Any] = {
            "port": port,
            "gen": g,
            "recover": recover,
            "inflight": plan.inflight,
            "timeoutMs": round(plan.timeout_s * 1000),
            "localAddresses": [f"127.0.{2 + g}.{1 + k}" for k in range(n_addr)],
        }
        proc = await asyncio.create_subprocess_exec(
            *pin,
            "node",
            str(TRAFFICGEN),
            json.dumps(conf),
            cwd=BENCH,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        gens.append(scale.Generator(proc, conf["localAddresses"][0]))
    return gens


async def setup(gens: list[scale.Generator], plan: Plan) -> dict[str, Any]:
    """Every user in: the rooms' creators first, then everyone else."""
    lists = [users_for(plan, g) for g in range(len(gens))]
    t0 = time.monotonic()
    out: dict[str, Any] = {"opened": 0, "failed": 0, "errors": []}
    for creators in (True, False):
        answers = await asyncio.gather(
            *(
                g.ask(3600, cmd="open", users=[u for u in us if u["create"] == creators])
                for g, us in zip(gens, lists, strict=True)
            )
        )
        out["opened"] += sum(a["opened"] for a in answers)
        out["failed"] += sum(a["failed"] for a in answers)
        out["errors"] += [e for a in answers for e in a["errors"]][:5]
    out["seconds"] = time.monotonic() - t0
    return out


async def progress(gens: list[scale.Generator]) -> list[dict[str, Any]]:
    return list(await asyncio.gather(*(g.ask(60, cmd="progress") for g in gens)))


def _received(ps: list[dict[str, Any]]) -> int:
    keys = ("roomDeliveries", "generalDeliveries", "visitDeliveries", "typing", "presence")
    return sum(p[k] for p in ps for k in (*keys, "members", "other"))


async def settle(gens: list[scale.Generator], quiet_s: float, timeout_s: float) -> float:
    """Until the generators have received nothing new for `quiet_s` (the set-up's presence
    storm drained), at most `timeout_s`; returns the seconds it took."""
    t0 = time.monotonic()
    last, since = -1, time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        n = _received(await progress(gens))
        if n != last:
            last, since = n, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            break
        await asyncio.sleep(0.1)
    return time.monotonic() - t0


def merge_sent(answers: list[dict[str, Any]]) -> tuple[dict[str, list[int]], list[str]]:
    """Per room the seqs acknowledged in the window, [lo, hi]; and any room whose seqs are not
    one run (a send of the window left out, or somebody else's message)."""
    ranges: dict[str, list[int]] = {}
    counts: dict[str, int] = {}
    for a in answers:
        for room, (lo, hi, n) in a["sent"].items():
            r = ranges.setdefault(room, [lo, hi])
            r[0], r[1] = min(r[0], lo), max(r[1], hi)
            counts[room] = counts.get(room, 0) + n
    holes = [r for r, (lo, hi) in ranges.items() if hi - lo + 1 != counts[r]]
    return ranges, holes


def percentiles(hists: list[dict[Any, int]], qs: tuple[float, ...]) -> dict[str, float | None]:
    """Percentiles (ms) of merged histograms whose bucket i is up to 0.01 ms * 1.01^i."""
    merged: dict[int, int] = {}
    for h in hists:
        for k, v in h.items():
            merged[int(k)] = merged.get(int(k), 0) + v
    total = sum(merged.values())
    out: dict[str, float | None] = {"n": float(total)}
    for q in qs:
        key = f"p{q * 100:g}"
        if total == 0:
            out[key] = None
            continue
        rank, seen = q * total, 0
        for b in sorted(merged):
            seen += merged[b]
            if seen >= rank:
                out[key] = 0.01 * 1.01**b
                break
    return out


async def measure(
    gens: list[scale.Generator], run: bench.Running, plan: Plan, phase: int
) -> dict[str, Any]:
    groups = run.cpu_groups()
    gen_pids = [g.proc.pid for g in gens]
    server = scale.server_pids(run)
    kernel0 = {p: procs.kernel_jiffies_and_writes(p) for p in server}
    cpu0 = bench.cpu_snapshot(groups)
    gen0 = sum(procs.cpu_jiffies(p) for p in gen_pids)
    busy0 = procs.machine_busy_jiffies()
    t0 = time.monotonic()
    ms = lambda s: round(s * 1000)  # noqa: E731
    share = plan.generators  # each generator offers its share of the machine-wide rates
    await asyncio.gather(
        *(
            g.ask(
                30,
                cmd="start",
                phase=phase,
                sendIntervalMs=ms(plan.send_interval_s),
                typingLeadMs=ms(plan.typing_lead_s),
                generalIntervalMs=ms(plan.general_interval_s * share),
                churnIntervalMs=ms(share / plan.reconnects_per_s) if plan.reconnects_per_s else 0,
                reconnectAfterMs=ms(plan.reconnect_after_s),
                visitIntervalMs=ms(share / plan.visits_per_s) if plan.visits_per_s else 0,
                visitMs=ms(plan.visit_s),
                rooms=[f"r{i:04d}" for i in range(plan.rooms)],
            )
            for g in gens
        )
    )
    await asyncio.sleep(plan.window_s)
    # CPU and RSS over the window itself; then the sends stop and what is in flight lands.
    wall = time.monotonic() - t0
    clk = os.sysconf("SC_CLK_TCK")
    cpu = bench.cpu_seconds(cpu0, bench.cpu_snapshot(groups))
    kernel1 = {p: procs.kernel_jiffies_and_writes(p) for p in server}
    server_s = sum(cpu[g["name"]] for g in groups if g["counted"])
    kernel_s = sum(kernel1[p][0] - kernel0[p][0] for p in server) / clk
    writes = sum(kernel1[p][1] - kernel0[p][1] for p in server)
    gen_s = (sum(procs.cpu_jiffies(p) for p in gen_pids) - gen0) / clk
    busy_s = (procs.machine_busy_jiffies() - busy0) / clk
    rss = scale.rss_kb(scale.server_pids(run))
    stopped = await asyncio.gather(
        *(
            g.ask(plan.drain_timeout_s + 30, cmd="stop", timeoutMs=ms(plan.drain_timeout_s))
            for g in gens
        )
    )
    drain_s = await settle(gens, 1.0, plan.drain_timeout_s)
    ranges, holes = merge_sent(list(stopped))
    checks = await asyncio.gather(*(g.ask(120, cmd="check", ranges=ranges) for g in gens))
    return summarize_checks(
        checks,
        {
            "wall_s": wall,
            "drain_s": drain_s,
            "server_cpu_s": server_s,
            "server_cores": server_s / wall,
            "server_kernel_cores": kernel_s / wall,
            "server_write_calls_per_s": writes / wall,
            "cpu_s_by_process": cpu,
            "generator_cores": gen_s / wall,
            "other_cores": max(0.0, busy_s - server_s - gen_s) / wall,
            "rss_mb": sum(rss.values()) / 1024,
            "rooms_with_messages": len(ranges),
            "messages": sum(hi - lo + 1 for lo, hi in ranges.values()),
            "seq_holes": holes[:10],
            "unfinished": {
                "acks": sum(s["pending"] for s in stopped),
                "away": sum(s["away"] for s in stopped),
            },
            "reconnect_ms": percentiles(
                [traffic_report.ms_hist(s["reconnectMs"]) for s in stopped], (0.5, 0.99)
            ),
        },
    )


def summarize_checks(checks: list[dict[str, Any]], out: dict[str, Any]) -> dict[str, Any]:
    counts: dict[str, int] = {}
    for c in checks:
        for k, v in c["counts"].items():
            counts[k] = counts.get(k, 0) + v
    churned = {k: sum(c["churned"][k] for c in checks) for k in checks[0]["churned"]}
    lat = {
        kind: percentiles([c["latency"][kind] for c in checks], (0.5, 0.99, 0.999))
        for kind in ("room", "general", "visit")
    }
    lat["all"] = percentiles(
        [c["latency"][k] for c in checks for k in ("room", "general", "visit")], (0.5, 0.99, 0.999)
    )
    expected = sum(c["expected"] for c in checks)
    lost = sum(c["lost"] for c in checks)
    out |= {
        "expected": expected,
        "received": sum(c["received"] for c in checks),
        "lost": lost,
        "lost_clients": sum(c["lostClients"] for c in checks),
        "duplicated": counts.get("duplicated", 0),
        "churned": churned,
        "latency_ms": lat,
        "counts": counts,
        "errors": [e for c in checks for e in c["errors"]][:10],
    }
    out["exactly_once"] = lost == 0 and out["duplicated"] == 0 and not out["seq_holes"]
    return out


async def run_server(
    dep: Deployment, plan: Plan, reps: int, m: bench.Machine, log: Path, rtchat: Path
) -> list[dict[str, Any]]:
    """Start `dep`, set up its users once, then `reps` measured windows; stop it."""
    runs: list[dict[str, Any]] = []
    problems: list[str] = []
    setup_info: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix=f"rtchat-traffic-{dep.name}-") as tmp:
        run = bench.Running(dep)
        gens: list[scale.Generator] = []
        try:
            bench.start_deployment(dep, m, Path(tmp), log, rtchat, run)
            await asyncio.sleep(0.3)
            recover = dep.name.startswith("rtchat")
            gens = await start_generators(run.entry_ports()[0], plan, recover, m.pin(m.gen_cpu))
            setup_info = await setup(gens, plan)
            setup_info["settle_s"] = await settle(gens, plan.settle_s, 600)
            setup_info["rss_mb"] = sum(scale.rss_kb(scale.server_pids(run)).values()) / 1024
            print(
                f"   {dep.name}: {setup_info['opened']:,} users in, "
                f"{setup_info['seconds']:.0f} s + {setup_info['settle_s']:.0f} s to settle",
                file=sys.stderr,
                flush=True,
            )
            # A few users who could not join (a handshake that timed out under the join
            # storm) are reported and the window goes on without them; more is a failure.
            if setup_info["failed"] > plan.users * SETUP_FAILURES_MAX:
                raise RuntimeError(f"set-up: {setup_info['failed']} users could not join")
            for rep in range(1, reps + 1):
                quiet = await asyncio.to_thread(bench.wait_for_quiet, 10 if reps > 1 else 0)
                w = await measure(gens, run, plan, rep)
                out: dict[str, Any] = {"rep": rep, "server": dep.name, "quiet_before": quiet}
                out |= {"setup": setup_info, "window": w, "errors": []}
                out["ok"] = (
                    w["exactly_once"]
                    and w["counts"].get("sendErrors", 0) == 0
                    and not setup_info["failed"]
                )
                for proc in run.all:
                    if proc.popen.poll() is not None:
                        out["ok"] = False
                        out["errors"].append(f"{proc.name} exited")
                runs.append(out)
                print(
                    f"   {dep.name} window {rep}/{reps}: p99 "
                    f"{w['latency_ms']['all']['p99'] or 0:.1f} ms, {w['server_cores']:.2f} "
                    f"cores, {w['lost']:,} lost, {w['duplicated']:,} twice",
                    file=sys.stderr,
                    flush=True,
                )
        except Exception as e:  # the report says what failed; the next server goes on
            problems.append(f"{type(e).__name__}: {e}")
        finally:
            for g in gens:
                await g.stop()
            problems += bench.stop_deployment(run)
    if problems:
        if not runs:
            runs.append({"rep": 1, "server": dep.name, "setup": setup_info, "errors": []})
        for r in runs:
            r["errors"] = [*r["errors"], *problems]
            r["ok"] = False
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--smoke", action="store_true", help="small and quick; asserts no timings")
    parser.add_argument("--reps", type=int, help="repetitions (default 3, smoke 1)")
    parser.add_argument("--servers", default=SERVERS, help="which of rtchat-sqlite, node-rooms")
    parser.add_argument("--window", type=float, help="seconds of measured traffic")
    parser.add_argument("--users", type=int, help="users (rooms of the same size; for trials)")
    parser.add_argument("--rtchat", type=Path, default=VENV_BIN / "rtchat")
    parser.add_argument("--out", type=Path, help="report directory (default: results/ or .work/)")
    args = parser.parse_args(argv)
    plan = SMOKE if args.smoke else FULL
    if args.window:
        plan = Plan(**{**asdict(plan), "window_s": args.window})
    if args.users:
        plan = Plan(**{**asdict(plan), "users": args.users})
    reps = args.reps or plan.reps
    chosen = [d for d in DEPLOYMENTS if d.name in args.servers.split(",")]
    m = bench.prepare_machine()
    bench.ensure_npm_deps()
    bench.WORK.mkdir(exist_ok=True)
    started = time.time()
    log_dir = bench.WORK / f"traffic-logs-{time.strftime('%Y%m%dT%H%M%S', time.gmtime(started))}"
    log_dir.mkdir()
    runs: list[dict[str, Any]] = []
    # One set-up per server (it costs far more than a window), then `reps` windows on it.
    for dep in chosen:
        print(f"== {dep.name}: set-up, then {reps} window(s)", file=sys.stderr, flush=True)
        bench.wait_for_quiet(10 if not args.smoke else 0)
        log = log_dir / f"{dep.name}.log"
        runs += asyncio.run(run_server(dep, plan, reps, m, log, args.rtchat))
    data: dict[str, Any] = {
        "kind": "smoke" if args.smoke else "full",
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "duration_s": time.time() - started,
        "environment": bench_report.environment(m.nofile, m.server_cpu, m.gen_cpu, chosen),
        "limits": scale.limits(m),
        "notes": m.notes,
        "plan": {**asdict(plan), "reps": reps, "rooms": plan.rooms, "senders": plan.senders},
        "rates": plan.rates(),
        "servers": {d.name: d.description for d in chosen},
        "server_env": {"rtchat": RTCHAT_TRAFFIC_ENV},
        "runs": runs,
        "server_logs": bench_report.scan_logs(log_dir),
    }
    data["summary"] = traffic_report.summarize(data)
    out_dir = args.out or (bench.WORK if args.smoke else BENCH / "results")
    kind = "traffic-smoke" if args.smoke else "traffic"
    base = bench_report.write_json(data, out_dir, kind, started)
    base.with_suffix(".md").write_text(traffic_report.markdown(data))
    # Only a whole run replaces the doc's figures.
    trial = args.smoke or args.users is not None or args.window is not None
    if not trial and args.out is None and args.servers == SERVERS:
        perf_doc.point_doc_at(
            perf_doc.DOC, "traffic", base.with_suffix(".json").relative_to(perf_doc.REPO).as_posix()
        )
        perf_doc.main([])
    print(f"report: {base}.md / .json", file=sys.stderr)
    failed = [r for r in runs if not r["ok"] and r["server"] != "node-rooms"]
    for r in failed:
        print(f"FAILED {r['server']} rep {r['rep']}: {traffic_report.why(r)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
