"""The Markdown report of one run: a table per group of deployments, targets, the machine."""

from __future__ import annotations

import re
from typing import Any

import bench_report

GROUP_TITLES = {
    "single": "One node",
    "variants": "One node: /ws and /metrics off, beside Socket.IO with /metrics on",
    "cluster": "Two nodes (cluster)",
    "polling": "Long-polling through HAProxy",
    "workers": "rtchat --workers",
}
PLAN_OF_GROUP = {
    "single": "session",
    "variants": "session",
    "cluster": "cluster",
    "polling": "polling",
}
# The variants table: rtchat-sqlite is rtchat over Socket.IO with /metrics on (the default);
# each ratio column is (head, numerator, denominator).
VARIANT_NAMES = ("node-seed", "rtchat-sqlite", "rtchat-ws", "rtchat-nometrics")
VARIANT_RATIOS = (
    ("/ws / Socket.IO", "rtchat-ws", "rtchat-sqlite"),
    ("/ws / node", "rtchat-ws", "node-seed"),
    ("metrics on / off", "rtchat-sqlite", "rtchat-nometrics"),
)


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


def session_rows(ses: dict[str, Any]) -> list[tuple[str, str]]:
    """The headline figures of S2, S3 and S4, named after the sizes of `ses`."""
    rows: list[tuple[str, str]] = []
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


def headline_rows(plan: dict[str, Any], group: str = "single") -> list[tuple[str, str]]:
    """The summary's figures of one group, named after the sizes this run actually used."""
    rows: list[tuple[str, str]] = []
    stages = plan["idle"]["stages"]
    if group == "single" and stages:
        n = stages[-1]
        prev = f"{stages[-2]:,}" if len(stages) > 1 else "0"
        rows += [
            (f"S1 {n} idle: KB per connection", f"S1 RSS per idle connection at {n:,}, KB"),
            (f"S1 {n} idle: connections accepted/s", f"S1 connections accepted/s ({prev}-{n:,})"),
        ]
    ses = plan.get(PLAN_OF_GROUP.get(group, group)) or plan["session"]
    rows += session_rows(ses)
    if group == "cluster":
        for w in ses["s2Windows"]:
            for part in ("node a", "node b", "redis", "postgres"):
                rows.append(
                    (
                        f"S2 window {w}: CPU us/delivery, {part}",
                        f"S2 window {w}: CPU µs per delivery, {part}",
                    )
                )
    if group == "polling":
        rows.append(
            (
                "polling: sessions served by more than one node",
                "Sessions whose requests reached more than one node",
            )
        )
    return rows


def names_in(data: dict[str, Any], group: str) -> list[str]:
    return [n for n in data["servers"] if bench_report.group_of(data, n) == group]


def baseline_ratios(data: dict[str, Any], names: list[str]) -> list[tuple[str, str, str]]:
    """Each rtchat deployment over its group's baseline, as table() takes ratio columns."""
    baselines = data["summary"].get("baselines", {})
    return [
        (f"{n} / {'node' if baselines[n] == 'node-seed' else baselines[n]}", n, baselines[n])
        for n in names
        if n.startswith("rtchat") and n in baselines
    ]


def table(
    data: dict[str, Any],
    rows: list[tuple[str, str]],
    names: list[str],
    ratio_columns: list[tuple[str, str, str]] | None = None,
) -> list[str]:
    """Medians per deployment, then the ratio columns (default: each over its baseline)."""
    summary = data["summary"]
    stats = summary["stats"]
    pairs = baseline_ratios(data, names) if ratio_columns is None else ratio_columns
    head = ["Figure", *names, *(h for h, _n, _d in pairs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for key, label in rows:
        # CPU per delivery stays fair when the generator is the limit: never marked.
        gb = [
            n
            for n in names
            if key.split(":")[0] in summary["generator_bound"].get(n, [])
            and not key.endswith(("generator CPU %", "KB per connection"))
            and "us/delivery" not in key
        ]
        cells = [label + (" †" if gb else "")]
        for n in names:
            s = stats.get(n, {}).get(key)
            cells.append(cell(s, key) + (" †" if n in gb else ""))
        for _head, num_name, den_name in pairs:
            num, den = stats.get(num_name, {}).get(key), stats.get(den_name, {}).get(key)
            if num and den and den["median"] and not ("kept up" in key or "generator CPU" in key):
                cells.append(f"{num['median'] / den['median']:.2f}x")
            else:
                cells.append("—")
        if any(stats.get(n, {}).get(key) for n in names):
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def summary_table(data: dict[str, Any], group: str = "single") -> str:
    if group == "variants":
        return variants_table(data)
    return "\n".join(table(data, headline_rows(data["plan"], group), names_in(data, group)))


def variants_table(data: dict[str, Any]) -> str:
    """/ws beside Socket.IO and the Node seed, and /metrics on beside off, on one node."""
    ses = data["plan"]["session"]
    rows = session_rows(ses)
    # The probe's p99 (a few idle clients in a process of their own) after the generator's.
    at = max(i for i, (key, _label) in enumerate(rows) if key.endswith("latency p99, ms")) + 1
    rows[at:at] = [
        (
            f"S3 {r} msg/s: probe latency p99, ms",
            f"S3 probe p99 latency at {r * ses['clients']:,} deliveries/s, ms",
        )
        for r in ses["s3Rates"]
    ]
    names = [n for n in VARIANT_NAMES if n in data["servers"]]
    pairs = [p for p in VARIANT_RATIOS if p[1] in names and p[2] in names]
    return "\n".join(table(data, rows, names, pairs))


def targets_table(data: dict[str, Any]) -> list[str]:
    out = [
        "| Issue | Comparison | rtchat | against | ratio | target | status |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in bench_report.evaluate(data):
        c = row["comparison"]
        target = f"{c.op} {c.target:g}x" if c.op else "—"
        ratio = f"{row['ratio']:.2f}x" if "ratio" in row else "—"
        out.append(
            f"| #{c.issue} | {c.label} | {c.numerator}: {cell(row['numerator'])} | "
            f"{c.denominator}: {cell(row['denominator'])} | {ratio} | {target} | "
            f"{row['status']} |"
        )
    return out


def placement_lines(data: dict[str, Any]) -> list[str]:
    """Which cores each process of each deployment was allowed (taskset), as measured."""
    seen: dict[str, dict[str, str]] = {}
    for r in data["runs"]:
        p = r["result"].get("placement_cores")
        if p and r["server"] not in seen:
            seen[r["server"]] = p
    if not seen:
        return []
    out = ["", "## Cores (taskset, read from /proc/PID/status)", ""]
    for name, p in seen.items():
        out.append(f"- {name}: " + "; ".join(f"{k} on {v}" for k, v in p.items()))
    return out


def markdown(data: dict[str, Any]) -> str:
    env = data["environment"]
    summary = data["summary"]
    out = [
        f"# rtchat benchmark — {data['started_utc']} on {env['machine']} ({data['kind']})",
        "",
        "Medians over repetitions, (min-max) in brackets. Ratios are rtchat's median over its "
        "group's baseline (the Node seed; on two nodes, the Node seed with the Redis adapter): "
        "for deliveries/s and connections/s higher is better; for latency, time, memory and "
        "CPU per delivery lower is better. † = the generator used more than 70% of its core in "
        "at least one repetition: a lower bound on the server, not a measurement of it. On "
        "two nodes, server CPU is summed over both nodes, their Redis and the PostgreSQL "
        "backends of the run's database.",
    ]
    git = env.get("git")
    if git:
        out += [
            "",
            f"Measured: commit `{git['commit']}` ({git['branch']})"
            + (
                f", with uncommitted changes to {', '.join(git['changed_files'])}"
                if git["dirty"]
                else ", clean tree"
            )
            + ".",
        ]
    for group in GROUP_TITLES:
        names = names_in(data, group)
        if names:
            out += ["", f"## {GROUP_TITLES[group]}", "", summary_table(data, group)]
    out += ["", "## Targets (issues #8, #9, #10 and #13)", "", *targets_table(data)]
    if data.get("left_out"):
        out += ["", "Not run (pending, switch on with `--servers`):"]
        out += [f"- {x}" for x in data["left_out"]]
    out += ["", "## Correctness (every expected message exactly once)", ""]
    if summary["ok"]:
        out.append("All runs: every expected message arrived exactly once; no disconnects.")
    for name, probs in summary["problems"].items():
        out.append(f"- **{name}: FAILED**")
        out.extend(f"  - {p}" for p in probs[:20])
    out += ["", "## All figures", ""]
    for group in GROUP_TITLES:
        names = names_in(data, group)
        keys: list[str] = []
        for n in names:
            keys.extend(k for k in summary["stats"].get(n, {}) if k not in keys)
        if keys:
            out += ["", f"### {GROUP_TITLES[group]}", ""]
            out += table(data, [(k, k) for k in sorted(keys, key=_order)], names)
    out += ["", "## Machine and versions", ""]
    out += machine_lines(data)
    out += placement_lines(data)
    out += ["", "## Servers", ""]
    for name, desc in data["servers"].items():
        files: dict[str, int] = {}
        for r in data["runs"]:
            if r["server"] == name and r["mode"] != "idle":
                files = r["result"].get("scratch_files", files)
        written = ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in files.items())
        out.append(f"- **{name}**: {desc}" + (f"; left {written}" if written else ""))
        if "sqlite" in name and not any(k.endswith(".db") for k in files):
            out.append("  - WARNING: no database file was written: storage may have been off")
    out += noise_lines(data)
    out += calibration_lines(data.get("calibration"))
    logs = data.get("server_logs", {})
    if any(v["problem_lines"] for v in logs.values()):
        out += ["", "## Server log problems", ""]
        for name, v in logs.items():
            if v["problem_lines"]:
                out.append(f"- {name}: {v['problem_lines']} lines, e.g.")
                out.extend(f"  - `{ln[:200]}`" for ln in v["first_problems"][:5])
    return "\n".join(out) + "\n"


def machine_lines(data: dict[str, Any]) -> list[str]:
    env = data["environment"]
    out = [
        f"- CPU: {env['cpu_model']}, {env['cpu_count']} cores; servers (and their Redis and "
        f"HAProxy) pinned to core {env['server_cpu']}, generator to core "
        f"{env['generator_cpu']} (taskset); PostgreSQL is the machine's, not pinned",
        f"- Memory: {env['memory_mb']} MB; kernel {env['kernel']}; somaxconn {env['somaxconn']}",
        f"- Open-file limit (soft/hard): {env['open_file_limit']['soft']}/"
        f"{env['open_file_limit']['hard']}",
        f"- Python {env['python']}: "
        + ", ".join(f"{k} {v}" for k, v in env["python_packages"].items()),
        f"- Node {env['node']}: " + ", ".join(f"{k} {v}" for k, v in env["npm_packages"].items()),
    ]
    if env.get("services"):
        out.append("- Services: " + ", ".join(f"{k} {v}" for k, v in env["services"].items()))
    out += [
        "- rtchat environment: "
        + ", ".join(f"{k}={v}" for k, v in data["server_env"]["rtchat"].items())
        + " (rate limit off); rtchat-sqlite: RTCHAT_DATABASE_URL=sqlite:///bench.db (relative "
        "to the server's working dir, a fresh temp dir per run); rtchat-memory: "
        "RTCHAT_DATABASE_URL=memory://; rtchat-ws and rtchat-nometrics as rtchat-sqlite, the "
        "first with its clients on /ws, the second with RTCHAT_METRICS=0; with PostgreSQL: "
        "a database created for the run and dropped after it",
        f"- Load average at start: {' '.join(env['loadavg_at_start'])}; run took "
        f"{data['duration_s'] / 60:.1f} min; {data['plan']['reps']} repetition(s), "
        "servers interleaved within each",
    ]
    out += [f"- Note: {n}" for n in data["notes"]]
    return out


def noise_lines(data: dict[str, Any]) -> list[str]:
    summary = data["summary"]
    out: list[str] = []
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
    return out


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
