"""Turn benchmark runs into figures (median, min-max over repetitions), ratios and targets.

report_md.py renders them as the run's Markdown report, perf_doc.py as docs/PERFORMANCE.md.
"""

from __future__ import annotations

import json
import platform
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
GEN_BOUND_PCT = 70.0
# Each group's figures are compared with its baseline's. Kept here (not only in
# deployments.py) so that a report from an older run reads the same.
BASELINES = {
    "single": "node-seed",
    # /ws and /metrics off beside rtchat over Socket.IO with /metrics on (the default)
    "variants": "rtchat-sqlite",
    "cluster": "node-cluster",
    "polling": "node-polling-sticky",
    "workers": "rtchat-workers1",
}
# What redis-server says about the machine's settings at every start, not about the run.
MACHINE_WARNINGS = ("Memory overcommit must be enabled",)
PY_PACKAGES = [
    "rtchat",
    "python-socketio",
    "python-engineio",
    "uvicorn",
    "uvloop",
    "websockets",
    "redis",
    "hiredis",
    "asyncpg",
]
NPM_PACKAGES = (
    "express",
    "socket.io",
    "engine.io",
    "ws",
    "@socket.io/redis-adapter",
    "socket.io-adapter",
    "redis",
    "@redis/client",
)


def _cmd(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unavailable ({e})"


def git_state() -> dict[str, Any]:
    """The commit measured, and whether the tree had changes on top of it."""
    commit = _cmd(["git", "-C", str(REPO), "rev-parse", "HEAD"])
    try:
        status = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        status = f"?? git status failed: {e}"
    changed = [ln[3:] for ln in status.splitlines() if ln.strip()]
    return {
        "commit": commit,
        "branch": _cmd(["git", "-C", str(REPO), "rev-parse", "--abbrev-ref", "HEAD"]),
        "dirty": bool(changed),
        "changed_files": changed[:30],
    }


def environment(
    nofile: tuple[int, int],
    server_cpu: int | None,
    gen_cpu: int | None,
    deployments: Sequence[Any] = (),
) -> dict[str, Any]:
    import services  # only a run needs it (asyncpg, redis-server, haproxy)

    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    lock = json.loads((BENCH / "package-lock.json").read_text())["packages"]
    npm = {
        path.split("node_modules/", 1)[1]: info["version"]
        for path, info in lock.items()
        if path.count("node_modules/") == 1 and path.split("node_modules/", 1)[1] in NPM_PACKAGES
    }
    py = {}
    for p in PY_PACKAGES:
        try:
            py[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            py[p] = "not installed"
    services_used: dict[str, str] = {}
    if any(d.redis for d in deployments):
        services_used["redis-server"] = services.redis_version()
    if any(d.postgres for d in deployments):
        services_used["postgresql"] = services.postgres_version()
    if any(d.balancer for d in deployments):
        services_used["haproxy"] = services.haproxy_version()
    return {
        "machine": socket.gethostname().split(".")[0] or "machine",
        "cpu_model": model.group(1).strip() if model else platform.processor(),
        "cpu_count": len(re.findall(r"^processor\s*:", cpuinfo, re.M)),
        "server_cpu": server_cpu,
        "generator_cpu": gen_cpu,
        "kernel": platform.release(),
        "memory_mb": int(
            re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1)  # type: ignore[union-attr]
        )
        // 1024,
        "python": sys.version.split()[0],
        "node": _cmd(["node", "--version"]),
        "npm_packages": npm,
        "python_packages": py,
        "services": services_used,
        "git": git_state(),
        "open_file_limit": {"soft": nofile[0], "hard": nofile[1]},
        "somaxconn": Path("/proc/sys/net/core/somaxconn").read_text().strip(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def write_json(data: dict[str, Any], out_dir: Path, kind: str, started: float) -> Path:
    """Write `data` to `<day>-<machine>-<kind>.json` in `out_dir` and return that path less
    its suffix, which the run's other files (its Markdown, its plots) share."""
    out_dir.mkdir(parents=True, exist_ok=True)
    day = time.strftime("%Y-%m-%d", time.gmtime(started))
    base = out_dir / f"{day}-{data['environment']['machine']}-{kind}"
    base.with_suffix(".json").write_text(json.dumps(data, indent=1) + "\n")
    return base


def scan_logs(log_dir: Path) -> dict[str, Any]:
    """Count warnings, errors and tracebacks each server wrote (stdout/stderr)."""
    out: dict[str, Any] = {}
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace")
        lines = [ln for ln in text.splitlines() if not ln.startswith("=== ")]
        bad = [
            ln
            for ln in lines
            if re.search(r"Traceback|ERROR|Error|WARNING|exception", ln)
            and not any(m in ln for m in MACHINE_WARNINGS)
        ]
        out[log.stem] = {"lines": len(lines), "problem_lines": len(bad), "first_problems": bad[:10]}
    return out


# ---------------------------------------------------------------- figures per run


def _cpu_breakdown(m: dict[str, float], key: str, phase: dict[str, Any]) -> None:
    by = phase.get("cpu_us_per_delivery_by_group") or {}
    if len(by) > 1:
        for group, us in by.items():
            m[f"{key}: CPU us/delivery, {group}"] = us


def run_metrics(run: dict[str, Any]) -> dict[str, float]:
    """Flatten one run's result into named figures."""
    r = run["result"]
    m: dict[str, float] = {}
    if run["mode"] == "idle" and "stages" in r:
        m["S1 idle RSS baseline, MB"] = r["rss_base_kb"] / 1024
        for st in r["stages"]:
            n = st["connections"]
            m[f"S1 {n} idle: KB per connection"] = st["rss_per_conn_kb"]
            m[f"S1 {n} idle: connections accepted/s"] = st["accepted_per_s"]
            m[f"S1 {n} idle: generator CPU %"] = st["gen_cpu_pct"]
    if run["mode"] != "idle":
        if "s4" in r:
            s4 = r["s4"]
            m["S4 join storm: time to drain, s"] = s4["drain_s"]
            m["S4 join storm: deliveries"] = s4["deliveries"]
            m["S4 join storm: deliveries/s"] = s4["deliveries_per_s"]
            m["S4 join storm: server CPU us/delivery"] = s4["server_cpu_us_per_delivery"]
            m["S4 join storm: generator CPU %"] = s4["gen_cpu_pct"]
            _cpu_breakdown(m, "S4 join storm", s4)
        for s2 in r.get("s2", []):
            k = f"S2 window {s2['window']}"
            m[f"{k}: deliveries/s"] = s2["deliveries_per_s"]
            m[f"{k}: server CPU %"] = s2["server_cpu_pct"]
            m[f"{k}: server CPU us/delivery"] = s2["server_cpu_us_per_delivery"]
            m[f"{k}: generator CPU %"] = s2["gen_cpu_pct"]
            _cpu_breakdown(m, k, s2)
        for s3 in r.get("s3", []):
            k = f"S3 {s3['rate_msgs_per_s']} msg/s"
            for p, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
                if s3.get(p) is not None:
                    m[f"{k}: latency {label}, ms"] = s3[p]
            if s3.get("max_ms") is not None:
                m[f"{k}: latency max, ms"] = s3["max_ms"]
            probe = s3.get("probe") or {}
            for p, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
                if probe.get(p) is not None:
                    m[f"{k}: probe latency {label}, ms"] = probe[p]
            m[f"{k}: kept up (1 = yes)"] = 1.0 if s3["kept_up"] else 0.0
            m[f"{k}: deliveries/s"] = s3["deliveries_per_s"]
            m[f"{k}: server CPU %"] = s3["server_cpu_pct"]
            if "server_cpu_us_per_delivery" in s3:
                m[f"{k}: server CPU us/delivery"] = s3["server_cpu_us_per_delivery"]
            m[f"{k}: generator CPU %"] = s3["gen_cpu_pct"]
            _cpu_breakdown(m, k, s3)
        spread = (r.get("placement") or {}).get("sessions_served_by_several_servers")
        if spread is not None:
            m["polling: sessions served by more than one node"] = spread
    machine = r.get("machine", {})
    m[f"{run['mode']}: other processes on the machine, cores"] = machine.get(
        "other_cores", float("nan")
    )
    return m


def run_problems(run: dict[str, Any]) -> list[str]:
    """Why a run failed (empty when every expected message arrived exactly once)."""
    r = run["result"]
    probs: list[str] = []
    if r.get("start_failed"):
        return [f"server did not start: {'; '.join(r.get('errors', []))}"]
    c = r.get("counters", {})
    for key in ("connect_failures", "disconnects", "stray", "server_errors"):
        if c.get(key):
            probs.append(f"{key.replace('_', ' ')}: {c[key]}")
    if run["mode"] == "idle":
        if not r.get("ok"):
            probs.append("S1 did not hold every connection")
    else:
        if r.get("warmup") and not r["warmup"]["ok"]:
            probs.append("warm-up: the nodes did not pass a message between them")
        s4 = r.get("s4")
        if s4 is None:
            probs.append("no S4 result")
        elif not s4["ok"]:
            probs.append(f"S4: missing {s4['missing']}, duplicated {s4['duplicated']}")
        for s in r.get("s2", []) + r.get("s3", []):
            if not s["ok"]:
                name = (
                    f"S2 window {s['window']}" if "window" in s else f"S3 {s['rate_msgs_per_s']}/s"
                )
                probs.append(f"{name}: lost {s['lost']}, duplicated {s['duplicated']}")
        if r.get("stopped_after"):
            probs.append(f"session stopped after {r['stopped_after']}: later scenarios skipped")
    if probs or not r.get("ok", True):
        probs.extend(r.get("errors", [])[:5])
    return probs


# ---------------------------------------------------------------- summary over repetitions


def group_of(data: dict[str, Any], name: str) -> str:
    # Reports from before the cluster scenario have no groups: every server was one node.
    return str(data.get("groups", {}).get(name, "single"))


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    per_server: dict[str, dict[str, list[float]]] = {}
    problems: dict[str, list[str]] = {}
    for run in data["runs"]:
        name = run["server"]
        figures = per_server.setdefault(name, {})
        for k, v in run_metrics(run).items():
            if isinstance(v, int | float) and v == v:  # JSON null (x/0 in the generator), NaN
                figures.setdefault(k, []).append(v)
        for p in run_problems(run):
            problems.setdefault(name, []).append(f"rep {run['rep']} {run['mode']}: {p}")
    stats: dict[str, dict[str, dict[str, float]]] = {}
    for name, figures in per_server.items():
        stats[name] = {
            k: {
                "median": statistics.median(v),
                "min": min(v),
                "max": max(v),
                "sum": sum(v),
                "n": len(v),
            }
            for k, v in figures.items()
            if v
        }
    gen_bound: dict[str, list[str]] = {}
    for name, figures in stats.items():
        for k, s in figures.items():
            if k.endswith("generator CPU %") and s["max"] > GEN_BOUND_PCT:
                gen_bound.setdefault(name, []).append(k.split(":")[0])
    ratios: dict[str, dict[str, float]] = {}
    baselines: dict[str, str] = {}
    for name, figures in stats.items():
        base_name = BASELINES.get(group_of(data, name))
        if base_name is None or base_name == name or base_name not in stats:
            continue
        base = stats[base_name]
        baselines[name] = base_name
        ratios[name] = {
            k: s["median"] / base[k]["median"]
            for k, s in figures.items()
            if k in base and base[k]["median"]
        }
    return {
        "ok": not problems and bool(stats),
        "problems": problems,
        "stats": stats,
        "ratios": ratios,
        "baselines": baselines,
        "generator_bound": gen_bound,
    }


# ---------------------------------------------------------------- targets


@dataclass(frozen=True)
class Comparison:
    """One figure of one deployment over the same figure of another, and its target."""

    label: str
    figure: str
    numerator: str
    denominator: str
    op: str | None = None  # ">=" or "<=", None: reported, no target
    target: float = 0.0
    issue: int = 8


def comparisons(plan: dict[str, Any]) -> list[Comparison]:
    """The targets of issues #8, #9, #10 and #13, named after the sizes of this run's plan."""
    ses = plan.get("cluster") or plan["session"]
    rate = ses["s3Rates"][0]
    d = f"{rate * ses['clients']:,}"
    out = []
    for w in ses["s2Windows"]:
        out.append(
            Comparison(
                f"Cross-node S2 deliveries/s, window {w}: rtchat / Node + adapter",
                f"S2 window {w}: deliveries/s",
                "rtchat-cluster",
                "node-cluster",
                ">=",
                5.0,
            )
        )
    for w in ses["s2Windows"]:
        out.append(
            Comparison(
                f"Cross-node CPU per delivery (servers + Redis + PostgreSQL), S2 window {w}",
                f"S2 window {w}: server CPU us/delivery",
                "rtchat-cluster",
                "node-cluster",
                "<=",
                0.2,
            )
        )
    out.append(
        Comparison(
            f"Cross-node S3 p99 at {d} deliveries/s",
            f"S3 {rate} msg/s: latency p99, ms",
            "rtchat-cluster",
            "node-cluster",
            "<=",
            1.0,
        )
    )
    one = plan["session"]
    if one.get("s3Probes"):
        r1 = one["s3Rates"][0]
        out.append(
            Comparison(
                f"One node, S3 probe p99 at {r1 * one['clients']:,} deliveries/s: rtchat / Node",
                f"S3 {r1} msg/s: probe latency p99, ms",
                "rtchat-sqlite",
                "node-seed",
                "<=",
                0.5,
                issue=13,
            )
        )
    out.append(
        Comparison(
            f"One node, S4 join storm of {one['clients']:,}, time to drain: rtchat / Node",
            "S4 join storm: time to drain, s",
            "rtchat-sqlite",
            "node-seed",
            "<=",
            0.2,
            issue=13,
        )
    )
    for w in plan["session"]["s2Windows"]:
        out.append(
            Comparison(
                f"One node, S2 window {w}: PostgreSQL / SQLite",
                f"S2 window {w}: deliveries/s",
                "rtchat-postgres",
                "rtchat-sqlite",
                ">=",
                0.8,
            )
        )
    out += variant_comparisons(one)
    pol = plan.get("polling")
    if pol:
        for w in pol["s2Windows"]:
            out.append(
                Comparison(
                    f"Long-polling S2 window {w}: round-robin (forwarded) / sticky",
                    f"S2 window {w}: deliveries/s",
                    "rtchat-polling-roundrobin",
                    "rtchat-polling-sticky",
                    issue=9,
                )
            )
        r = pol["s3Rates"][0]
        out.append(
            Comparison(
                f"Long-polling S3 p99 at {r * pol['clients']:,} deliveries/s: round-robin / sticky",
                f"S3 {r} msg/s: latency p99, ms",
                "rtchat-polling-roundrobin",
                "rtchat-polling-sticky",
                issue=9,
            )
        )
    wk = plan.get("workers")
    if wk:
        for w in wk["s2Windows"]:
            out += [
                Comparison(
                    f"S2 window {w} deliveries/s: --workers 2 / --workers 1",
                    f"S2 window {w}: deliveries/s",
                    "rtchat-workers2",
                    "rtchat-workers1",
                    issue=9,
                ),
                Comparison(
                    f"S2 window {w} CPU per delivery: --workers 2 / --workers 1",
                    f"S2 window {w}: server CPU us/delivery",
                    "rtchat-workers2",
                    "rtchat-workers1",
                    issue=9,
                ),
            ]
    return out


def variant_comparisons(ses: dict[str, Any]) -> list[Comparison]:
    """Issue #10: /ws beside Socket.IO (reported), and what /metrics costs."""
    w_hi, r_hi = ses["s2Windows"][-1], ses["s3Rates"][-1]
    out = [
        Comparison(
            f"One node, S2 window {w} deliveries/s: /ws / Socket.IO",
            f"S2 window {w}: deliveries/s",
            "rtchat-ws",
            "rtchat-sqlite",
            issue=10,
        )
        for w in ses["s2Windows"]
    ]
    out.append(
        Comparison(
            f"One node, S2 window {w_hi} CPU per delivery: /ws / Socket.IO",
            f"S2 window {w_hi}: server CPU us/delivery",
            "rtchat-ws",
            "rtchat-sqlite",
            issue=10,
        )
    )
    if ses.get("s3Probes"):
        out.append(
            Comparison(
                f"One node, S3 probe p99 at {r_hi * ses['clients']:,} deliveries/s: "
                "/ws / Socket.IO",
                f"S3 {r_hi} msg/s: probe latency p99, ms",
                "rtchat-ws",
                "rtchat-sqlite",
                issue=10,
            )
        )
    # "No measurable cost": within what this shared machine cannot tell apart (20%).
    out += [
        Comparison(
            f"One node, S2 window {w_hi} CPU per delivery: /metrics on / off",
            f"S2 window {w_hi}: server CPU us/delivery",
            "rtchat-sqlite",
            "rtchat-nometrics",
            "<=",
            1.2,
            issue=10,
        ),
        Comparison(
            f"One node, S2 window {w_hi} deliveries/s: /metrics on / off",
            f"S2 window {w_hi}: deliveries/s",
            "rtchat-sqlite",
            "rtchat-nometrics",
            ">=",
            0.8,
            issue=10,
        ),
    ]
    return out


def evaluate(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Each comparison with both medians, the ratio and whether the target is met."""
    stats = data["summary"]["stats"]
    rows = []
    for c in comparisons(data["plan"]):
        num = stats.get(c.numerator, {}).get(c.figure)
        den = stats.get(c.denominator, {}).get(c.figure)
        row: dict[str, Any] = {"comparison": c, "numerator": num, "denominator": den}
        if num is None or den is None or not den["median"]:
            missing = [n for n, s in ((c.numerator, num), (c.denominator, den)) if s is None]
            row["status"] = "not measured: " + ", ".join(missing or ["zero baseline"])
        else:
            ratio = num["median"] / den["median"]
            row["ratio"] = ratio
            if c.op is None:
                row["status"] = "reported"
            else:
                met = ratio >= c.target if c.op == ">=" else ratio <= c.target
                row["status"] = "met" if met else "not met"
        rows.append(row)
    return rows


def failures_text(data: dict[str, Any]) -> str:
    s = data["summary"]
    if s["ok"]:
        return "bench-smoke: OK — every expected message arrived exactly once on every server."
    lines = ["bench-smoke: FAILED"]
    for name, probs in s["problems"].items():
        lines += [f"  {name}: {p}" for p in probs]
    return "\n".join(lines)
