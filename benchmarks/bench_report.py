"""Turn benchmark runs into figures (median, min-max over repetitions) and a Markdown report."""

from __future__ import annotations

import json
import platform
import re
import socket
import statistics
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
BASELINE = "node-seed"
GEN_BOUND_PCT = 70.0
SUMMARY_START = "<!-- bench-summary:start -->"
SUMMARY_END = "<!-- bench-summary:end -->"
PY_PACKAGES = ["rtchat", "python-socketio", "python-engineio", "uvicorn", "uvloop", "websockets"]


def _cmd(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        return f"unavailable ({e})"


def environment(
    nofile: tuple[int, int], server_cpu: int | None, gen_cpu: int | None
) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"model name\s*:\s*(.*)", cpuinfo)
    lock = json.loads((BENCH / "package-lock.json").read_text())["packages"]
    npm = {
        path.rsplit("node_modules/", 1)[1]: info["version"]
        for path, info in lock.items()
        if path.rsplit("node_modules/", 1)[-1] in ("express", "socket.io", "engine.io", "ws")
    }
    py = {}
    for p in PY_PACKAGES:
        try:
            py[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            py[p] = "not installed"
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
        "open_file_limit": {"soft": nofile[0], "hard": nofile[1]},
        "somaxconn": Path("/proc/sys/net/core/somaxconn").read_text().strip(),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
    }


def scan_logs(log_dir: Path) -> dict[str, Any]:
    """Count warnings, errors and tracebacks each server wrote (stdout/stderr)."""
    out: dict[str, Any] = {}
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace")
        lines = [ln for ln in text.splitlines() if not ln.startswith("=== ")]
        bad = [ln for ln in lines if re.search(r"Traceback|ERROR|Error|WARNING|exception", ln)]
        out[log.stem] = {"lines": len(lines), "problem_lines": len(bad), "first_problems": bad[:10]}
    return out


# ---------------------------------------------------------------- figures per run


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
    if run["mode"] == "session":
        if "s4" in r:
            s4 = r["s4"]
            m["S4 join storm: time to drain, s"] = s4["drain_s"]
            m["S4 join storm: deliveries"] = s4["deliveries"]
            m["S4 join storm: deliveries/s"] = s4["deliveries_per_s"]
            m["S4 join storm: server CPU us/delivery"] = s4["server_cpu_us_per_delivery"]
            m["S4 join storm: generator CPU %"] = s4["gen_cpu_pct"]
        for s2 in r.get("s2", []):
            k = f"S2 window {s2['window']}"
            m[f"{k}: deliveries/s"] = s2["deliveries_per_s"]
            m[f"{k}: server CPU %"] = s2["server_cpu_pct"]
            m[f"{k}: server CPU us/delivery"] = s2["server_cpu_us_per_delivery"]
            m[f"{k}: generator CPU %"] = s2["gen_cpu_pct"]
        for s3 in r.get("s3", []):
            k = f"S3 {s3['rate_msgs_per_s']} msg/s"
            for p, label in (("p50_ms", "p50"), ("p99_ms", "p99"), ("p999_ms", "p99.9")):
                if s3.get(p) is not None:
                    m[f"{k}: latency {label}, ms"] = s3[p]
            if s3.get("max_ms") is not None:
                m[f"{k}: latency max, ms"] = s3["max_ms"]
            m[f"{k}: kept up (1 = yes)"] = 1.0 if s3["kept_up"] else 0.0
            m[f"{k}: deliveries/s"] = s3["deliveries_per_s"]
            m[f"{k}: server CPU %"] = s3["server_cpu_pct"]
            m[f"{k}: generator CPU %"] = s3["gen_cpu_pct"]
    m[f"{run['mode']}: other processes on the machine, cores"] = r.get("machine", {}).get(
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
    base = stats.get(BASELINE, {})
    for name, figures in stats.items():
        if name.startswith("rtchat"):
            ratios[name] = {
                k: s["median"] / base[k]["median"]
                for k, s in figures.items()
                if k in base and base[k]["median"]
            }
    return {
        "ok": not problems and bool(stats),
        "problems": problems,
        "stats": stats,
        "ratios_vs_node": ratios,
        "generator_bound": gen_bound,
    }


# ---------------------------------------------------------------- Markdown


def fmt(x: float) -> str:
    if x != x:
        return "n/a"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 100:
        return f"{x:.0f}"
    if ax >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"


def cell(s: dict[str, float] | None, key: str = "") -> str:
    if s is None:
        return "—"
    if "kept up" in key:
        return f"{round(s['sum'])}/{s['n']} reps"
    if s["n"] == 1 or s["min"] == s["max"]:
        return fmt(s["median"])
    return f"{fmt(s['median'])} ({fmt(s['min'])}-{fmt(s['max'])})"


def headline_rows(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary's figures, named after the sizes this run actually used."""
    rows: list[tuple[str, str]] = []
    stages = plan["idle"]["stages"]
    if stages:
        n = stages[-1]
        prev = f"{stages[-2]:,}" if len(stages) > 1 else "0"
        rows += [
            (f"S1 {n} idle: KB per connection", f"S1 RSS per idle connection at {n:,}, KB"),
            (f"S1 {n} idle: connections accepted/s", f"S1 connections accepted/s ({prev}-{n:,})"),
        ]
    ses = plan["session"]
    for w in ses["s2Windows"]:
        rows.append((f"S2 window {w}: deliveries/s", f"S2 deliveries/s, window {w}"))
    for w in ses["s2Windows"]:
        rows.append(
            (f"S2 window {w}: server CPU us/delivery", f"S2 server CPU µs per delivery, window {w}")
        )
    for r in ses["s3Rates"]:
        d = f"{r * ses['clients']:,}"
        rows.append((f"S3 {r} msg/s: latency p99, ms", f"S3 p99 latency at {d} deliveries/s, ms"))
    for r in ses["s3Rates"]:
        d = f"{r * ses['clients']:,}"
        rows.append((f"S3 {r} msg/s: kept up (1 = yes)", f"S3 kept up at {d} deliveries/s"))
    rows += [
        (
            "S4 join storm: time to drain, s",
            f"S4 join storm ({ses['clients']:,} clients): time to drain, s",
        ),
        ("S4 join storm: deliveries/s", "S4 join storm: deliveries/s"),
    ]
    return rows


def table(data: dict[str, Any], rows: list[tuple[str, str]]) -> list[str]:
    summary = data["summary"]
    names = list(data["servers"])
    rt = [n for n in names if n.startswith("rtchat")]
    head = ["Figure", *names, *(f"{n} / node" for n in rt)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in rows:
        # CPU per delivery stays fair when the generator is the limit: never marked.
        gb = [
            n
            for n in names
            if key.split(":")[0] in summary["generator_bound"].get(n, [])
            and not key.endswith(("us/delivery", "generator CPU %", "KB per connection"))
        ]
        cells = [label + (" †" if gb else "")]
        for n in names:
            s = summary["stats"].get(n, {}).get(key)
            cells.append(cell(s, key) + (" †" if n in gb else ""))
        for n in rt:
            r = summary["ratios_vs_node"].get(n, {}).get(key)
            ok = r is not None and "kept up" not in key and "generator CPU" not in key
            cells.append(f"{r:.2f}x" if ok else "—")
        if any(summary["stats"].get(n, {}).get(key) for n in names):
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary_table(data: dict[str, Any]) -> str:
    return "\n".join(table(data, headline_rows(data["plan"])))


def markdown(data: dict[str, Any]) -> str:
    env = data["environment"]
    summary = data["summary"]
    out = [
        f"# rtchat benchmark — {data['started_utc']} on {env['machine']} ({data['kind']})",
        "",
        "Medians over repetitions, (min-max) in brackets. Ratios are rtchat's median over the "
        "Node seed's (for deliveries/s and connections/s higher is better; for latency, time, "
        "memory and CPU per delivery lower is better). † = the generator used more than 70% "
        "of its core in at least one repetition: a lower bound on the server, not a "
        "measurement of it.",
        "",
        "## Summary",
        "",
        summary_table(data),
        "",
        "## Correctness (every expected message exactly once)",
        "",
    ]
    if summary["ok"]:
        out.append("All runs: every expected message arrived exactly once; no disconnects.")
    for name, probs in summary["problems"].items():
        out.append(f"- **{name}: FAILED**")
        out.extend(f"  - {p}" for p in probs[:20])
    out += ["", "## All figures", ""]
    keys: list[str] = []
    for figures in summary["stats"].values():
        keys.extend(k for k in figures if k not in keys)
    out += table(data, [(k, k) for k in sorted(keys, key=_order)])
    out += ["", "## Machine and versions", ""]
    out += [
        f"- CPU: {env['cpu_model']}, {env['cpu_count']} cores; server pinned to core "
        f"{env['server_cpu']}, generator to core {env['generator_cpu']} (taskset)",
        f"- Memory: {env['memory_mb']} MB; kernel {env['kernel']}; somaxconn {env['somaxconn']}",
        f"- Open-file limit (soft/hard): {env['open_file_limit']['soft']}/"
        f"{env['open_file_limit']['hard']}",
        f"- Python {env['python']}: "
        + ", ".join(f"{k} {v}" for k, v in env["python_packages"].items()),
        f"- Node {env['node']}: " + ", ".join(f"{k} {v}" for k, v in env["npm_packages"].items()),
        "- rtchat environment: "
        + ", ".join(f"{k}={v}" for k, v in data["server_env"]["rtchat"].items())
        + " (rate limit off); rtchat-sqlite: RTCHAT_DATABASE_URL=sqlite:///bench.db (relative "
        "to the server's working dir, a fresh temp dir per run); rtchat-memory: RTCHAT_DATABASE_URL=memory://",
        f"- Load average at start: {' '.join(env['loadavg_at_start'])}; run took "
        f"{data['duration_s'] / 60:.1f} min; {data['plan']['reps']} repetition(s), "
        "servers interleaved within each",
    ]
    out += [f"- Note: {n}" for n in data["notes"]]
    out += ["", "## Servers", ""]
    for name, desc in data["servers"].items():
        files: dict[str, int] = {}
        for r in data["runs"]:
            if r["server"] == name and r["mode"] == "session":
                files = r["result"].get("scratch_files", files)
        written = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in files.items())
        out.append(f"- **{name}**: {desc}" + (f"; left {written}" if written else ""))
        if "sqlite" in name and not any(k.endswith(".db") for k in files):
            out.append("  - WARNING: no database file was written: storage may have been off")
    other = [
        s["median"]
        for st in summary["stats"].values()
        for k, s in st.items()
        if "other processes" in k
    ]
    if other:
        out += [
            "",
            "## Noise",
            "",
            f"Other processes used {min(other):.2f}-{max(other):.2f} cores (median per server "
            "and scenario) while servers were measured"
            + (": the machine was shared, so figures are noisy." if max(other) > 0.1 else "."),
        ]
    quiet = [r["result"]["quiet_before"] for r in data["runs"] if r["result"].get("quiet_before")]
    if quiet:
        busy = [q for q in quiet if q["busy_cores"] >= 0.3]
        out.append(
            f"Before each server run the runner waited up to "
            f"{data['plan']['session'].get('quietWaitS', 0)} s for other work to drop below "
            f"0.3 cores: {sum(q['waited_s'] for q in quiet):.0f} s waited in all; "
            f"{len(busy)} of {len(quiet)} runs started with the machine still busier than that."
        )
    out += calibration_lines(data.get("calibration"))
    logs = data.get("server_logs", {})
    if any(v["problem_lines"] for v in logs.values()):
        out += ["", "## Server log problems", ""]
        for name, v in logs.items():
            if v["problem_lines"]:
                out.append(f"- {name}: {v['problem_lines']} lines, e.g.")
                out.extend(f"  - `{ln[:200]}`" for ln in v["first_problems"][:5])
    return "\n".join(out) + "\n"


def calibration_lines(cal: dict[str, Any] | None) -> list[str]:
    """The generator's ceiling, measured against servers/null_server.js."""
    if not cal or "s2" not in cal:
        return []
    out = [
        "",
        "## Generator ceiling",
        "",
        "One session against `servers/null_server.js` (the same broadcasts hand-written on "
        "node:http, no socket.io), to show how much the generator itself can receive and check:",
        "",
        "| Scenario | deliveries/s | generator CPU % | server CPU % | exactly once |",
        "|---|---|---|---|---|",
    ]
    rows = [(f"S2 window {s['window']}", s) for s in cal.get("s2", [])]
    rows += [(f"S3 {s['rate_msgs_per_s']} msg/s", s) for s in cal.get("s3", [])]
    if cal.get("s4"):
        rows.insert(0, ("S4 join storm", cal["s4"]))
    for name, s in rows:
        out.append(
            f"| {name} | {fmt(s['deliveries_per_s'])} | {fmt(s['gen_cpu_pct'])} | "
            f"{fmt(s['server_cpu_pct'])} | {'yes' if s['ok'] else 'NO'} |"
        )
    return out


def _order(key: str) -> tuple[str, int, str]:
    m = re.match(r"(S\d|\w+) (\d+)", key)
    return (key[:2], int(m.group(2)) if m else 0, key)


def failures_text(data: dict[str, Any]) -> str:
    s = data["summary"]
    if s["ok"]:
        return "bench-smoke: OK — every expected message arrived exactly once on every server."
    lines = ["bench-smoke: FAILED"]
    for name, probs in s["problems"].items():
        lines += [f"  {name}: {p}" for p in probs]
    return "\n".join(lines)


def update_performance_doc(doc: Path, data: dict[str, Any], base: Path) -> None:
    """Replace the summary table between the markers in docs/PERFORMANCE.md."""
    if not doc.exists():
        return
    text = doc.read_text()
    if SUMMARY_START not in text or SUMMARY_END not in text:
        return
    env = data["environment"]
    block = "\n".join(
        [
            SUMMARY_START,
            f"Latest full run: {data['started_utc']}, {env['cpu_model']} ({env['cpu_count']} "
            f"cores), report `benchmarks/results/{base.name}.md`.",
            "",
            summary_table(data),
            SUMMARY_END,
        ]
    )
    head, rest = text.split(SUMMARY_START, 1)
    tail = rest.split(SUMMARY_END, 1)[1]
    doc.write_text(head + block + tail)
