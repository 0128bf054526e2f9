"""The real-chat-traffic benchmark's figures (benchmarks/traffic.py): medians and Markdown.

Medians are over repetitions, per server. Ratios are rtchat's figure over the Node rooms
server's from the same run.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import scale_report

# Targets of issue #13 for this scenario.
P99_RATIO_MAX = 0.5  # rtchat's p99 at most half the Node rooms server's
CPU_RATIO_MAX = 1 / 3  # at no more than a third of its CPU
GENERATOR_BUSY = 0.7  # generators above this share of their core: the figure is theirs too

NODE = "node-rooms"
RTCHAT = "rtchat-sqlite"


def ms_hist(values: list[float]) -> dict[int, int]:
    """Values (ms) into trafficgen.js's histogram buckets (up to 0.01 ms * 1.01^i)."""
    out: dict[int, int] = {}
    for v in values:
        b = max(0, math.ceil(math.log(max(v, 0.01) / 0.01) / math.log(1.01)))
        out[b] = out.get(b, 0) + 1
    return out


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def _figures(w: dict[str, Any]) -> dict[str, float | None]:
    lat = w["latency_ms"]
    c = w["counts"]
    ch = w["churned"]
    return {
        "p50_ms": lat["all"]["p50"],
        "p99_ms": lat["all"]["p99"],
        "p99.9_ms": lat["all"]["p99.9"],
        "room_p99_ms": lat["room"]["p99"],
        "general_p99_ms": lat["general"]["p99"],
        "server_cores": w["server_cores"],
        "server_kernel_cores": w.get("server_kernel_cores"),
        "server_write_calls_per_s": w.get("server_write_calls_per_s"),
        "generator_cores": w["generator_cores"],
        "other_cores": w["other_cores"],
        "rss_mb": w["rss_mb"],
        "messages": w["messages"],
        "deliveries": c.get("roomDeliveries", 0)
        + c.get("generalDeliveries", 0)
        + c.get("visitDeliveries", 0),
        "deliveries_per_s": (
            c.get("roomDeliveries", 0) + c.get("generalDeliveries", 0) + c.get("visitDeliveries", 0)
        )
        / w["wall_s"],
        "events_per_s": (
            c.get("roomDeliveries", 0)
            + c.get("generalDeliveries", 0)
            + c.get("visitDeliveries", 0)
            + c.get("typing", 0)
            + c.get("presence", 0)
            + c.get("members", 0)
        )
        / w["wall_s"],
        "expected": w["expected"],
        "lost": w["lost"],
        "duplicated": w["duplicated"],
        "churned_clients": ch["clients"],
        "churned_expected": ch["expected"],
        "churned_missed_live": ch["expected"] - ch["live"],
        "churned_recovered": ch["recovered"],
        "churned_lost": ch["lost"],
        "send_errors": c.get("sendErrors", 0),
        "reconnects": c.get("reconnects", 0),
        "reconnect_p50_ms": w["reconnect_ms"].get("p50"),
    }


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """Per server: the medians over repetitions of each figure; then the targets."""
    out: dict[str, Any] = {}
    for server in dict.fromkeys(r["server"] for r in data["runs"]):
        runs = [r for r in data["runs"] if r["server"] == server]
        measured = [_figures(r["window"]) for r in runs if "window" in r]
        med = {k: _median([f[k] for f in measured]) for k in (measured[0] if measured else {})}
        out[server] = {
            "reps": len(measured),
            "median": med,
            "range": {
                k: (
                    min(v for f in measured if (v := f[k]) is not None),
                    max(v for f in measured if (v := f[k]) is not None),
                )
                for k in med
                if med[k] is not None
            },
            "exactly_once": all(r["window"]["exactly_once"] for r in runs if "window" in r),
            "generator_limited": any(
                (f["generator_cores"] or 0) > GENERATOR_BUSY for f in measured
            ),
            "setup_s": _median([r.get("setup", {}).get("seconds") for r in runs]),
            "setup_failed": max(r.get("setup", {}).get("failed", 0) for r in runs),
            "errors": [e for r in runs for e in r.get("errors", [])],
            "ok": all(r["ok"] for r in runs),
        }
    out["targets"] = targets(out)
    return out


def targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    rt, node = s.get(RTCHAT, {}).get("median"), s.get(NODE, {}).get("median")
    if not rt or not node:
        return []
    out = []
    if rt.get("p99_ms") and node.get("p99_ms"):
        r = rt["p99_ms"] / node["p99_ms"]
        out.append(
            {
                "target": f"p99 delivery latency ≤ {P99_RATIO_MAX:g}x the Node rooms server's",
                "figure": f"{rt['p99_ms']:.1f} ms vs {node['p99_ms']:.1f} ms: {r:.2f}x",
                "met": r <= P99_RATIO_MAX,
            }
        )
    if rt.get("server_cores") and node.get("server_cores"):
        r = rt["server_cores"] / node["server_cores"]
        out.append(
            {
                "target": "server CPU at most 1/3 of the Node rooms server's",
                "figure": f"{rt['server_cores']:.3f} vs {node['server_cores']:.3f} cores: {r:.2f}x",
                "met": r <= CPU_RATIO_MAX,
            }
        )
    return out


def why(run: dict[str, Any]) -> str:
    w = run.get("window")
    if w is None:
        return "; ".join(run.get("errors", [])) or "no measurement"
    parts = [
        f"{w['lost']:,} lost",
        f"{w['duplicated']:,} twice",
        f"{w['counts'].get('sendErrors', 0):,} send errors",
    ]
    if w["seq_holes"]:
        parts.append(f"seq holes in {', '.join(w['seq_holes'])}")
    return ", ".join(parts) + "; " + "; ".join([*run.get("errors", []), *w["errors"][:3]])


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


ROWS = (
    ("p50_ms", "p50 delivery latency, ms", ".2f"),
    ("p99_ms", "p99 delivery latency, ms", ".2f"),
    ("p99.9_ms", "p99.9 delivery latency, ms", ".2f"),
    ("room_p99_ms", "p99, rooms of 10, ms", ".2f"),
    ("general_p99_ms", "p99, general (everyone), ms", ".2f"),
    ("server_cores", "server CPU, cores", ".3f"),
    ("server_kernel_cores", "... of it in the kernel, cores", ".3f"),
    (
        "server_write_calls_per_s",
        "server write calls/s (a write does the reader's TCP work too)",
        ",.0f",
    ),
    ("rss_mb", "server RSS, MB", ",.1f"),
    ("messages", "messages acknowledged", ",.0f"),
    ("deliveries_per_s", "message deliveries/s", ",.0f"),
    ("events_per_s", "all events received/s (typing, presence, members too)", ",.0f"),
    ("expected", "deliveries owed (receiver x room x seq)", ",.0f"),
    ("lost", "lost", ",.0f"),
    ("duplicated", "delivered twice", ",.0f"),
    ("churned_clients", "reconnected clients", ",.0f"),
    ("churned_expected", "owed to reconnected clients", ",.0f"),
    ("churned_missed_live", "... missed while away", ",.0f"),
    ("churned_recovered", "... recovered by sync", ",.0f"),
    ("churned_lost", "... lost", ",.0f"),
    ("send_errors", "send errors", ",.0f"),
    ("reconnect_p50_ms", "reconnect to caught up, p50 ms", ",.0f"),
    ("generator_cores", "generators' CPU, cores (all processes)", ".3f"),
    ("other_cores", "other processes' CPU, cores", ".3f"),
)


def markdown(data: dict[str, Any]) -> str:
    s = data["summary"]
    env = data["environment"]
    plan = data["plan"]
    rates = data["rates"]
    servers = [k for k in data["servers"] if k in s]
    lines = [
        f"# Real chat traffic — {data['started_utc']}",
        "",
        f"`python benchmarks/traffic.py{' --smoke' if data['kind'] == 'smoke' else ''}`, "
        f"{plan['reps']} repetition(s): measured windows after one set-up per server, "
        f"{data['duration_s'] / 60:.1f} min in all. Medians over the windows, (min-max) in "
        "brackets.",
        "",
        f"Machine: {env['cpu_model']}, {env['cpu_count']} CPUs, {env['memory_mb']:,} MB, "
        f"kernel {env['kernel']}; Python {env['python']}, Node {env['node']}, socket.io "
        f"{env['npm_packages'].get('socket.io', '?')}; rtchat at "
        f"{env['git'].get('commit', '?')[:10]}; load average at the start "
        f"{' '.join(env['loadavg_at_start'])}; servers on core {env['server_cpu']}, "
        f"{plan['generators']} generator processes on core {env['generator_cpu']}. Open files "
        f"per process {data['limits']['nofile_per_process'][0]:,}; sources: generator i on "
        "127.0.(2+i).1 and up.",
        "",
        "## The traffic",
        "",
        f"{plan['users']:,} users in {plan['rooms']:,} rooms of {plan['room_size']}, everyone "
        f"also in `general`; set-up (all join, then settle) not measured, then a window of "
        f"{plan['window_s']:g} s:",
        "",
        f"- {plan['senders']:,} senders ({plan['sender_fraction']:.0%}), each posting to its room "
        f"every {plan['send_interval_s']:g} s: {rates['room_messages_per_s']:g} messages/s, "
        f"{rates['room_deliveries_per_s']:,.0f} deliveries/s with the echo;",
        f"- a typing report {plan['typing_lead_s']:g} s before each message: "
        f"{rates['typing_reports_per_s']:g}/s, {rates['typing_deliveries_per_s']:,.0f} "
        "`user-typing` deliveries/s;",
        f"- a message to general every {plan['general_interval_s']:g} s: "
        f"{rates['general_deliveries_per_s']:,.0f} deliveries/s;",
        f"- {rates['reconnects_per_s']:g} reconnect/s (the connection drops, back after "
        f"{plan['reconnect_after_s']:g} s, joins its room again; rtchat's client presents its "
        "token and asks `sync` from the last seq it saw): "
        f"{rates['presence_deliveries_per_s']:,.0f} presence deliveries/s;",
        f"- {rates['visits_per_s']:g} visit/s: a user joins another room, stays "
        f"{plan['visit_s']:g} s, leaves it (its deliveries there count in latency, not in "
        "exactly-once).",
        "",
        "Latency: the sender's send to each other receiver's receipt (the echo left out), all "
        "messages. Exactly-once: per receiver, its home room and general, every seq "
        "acknowledged in the window, received live or (rtchat) by `sync`.",
        "",
        "Servers: "
        + "; ".join(f"**{k}**: {v}" for k, v in data["servers"].items())
        + ". rtchat stores every message in SQLite before broadcasting it; the Node rooms "
        "server keeps everything in memory and has no recovery.",
        "",
    ]
    if s["targets"]:
        lines += [
            "## Targets (issue #13)",
            "",
            *scale_report.targets_table(s["targets"]),
            "",
        ]
        if any(s[k]["generator_limited"] for k in servers):
            lines += [
                f"The generators used more than {GENERATOR_BUSY:.0%} of their core in some "
                "repetition: latency there is partly theirs.",
                "",
            ]
    lines += [
        "## Figures",
        "",
        "| figure | " + " | ".join(servers) + (" | rtchat / node |" if len(servers) > 1 else " |"),
        "|---|" + "---:|" * len(servers) + ("---:|" if len(servers) > 1 else ""),
    ]
    for key, label, fmt in ROWS:
        cells = []
        for k in servers:
            v = s[k]["median"].get(key)
            rng = s[k]["range"].get(key)
            cell = _f(v, fmt)
            if rng and s[k]["reps"] > 1:
                cell += f" ({_f(rng[0], fmt)}-{_f(rng[1], fmt)})"
            cells.append(cell)
        row = f"| {label} | " + " | ".join(cells) + " |"
        if len(servers) > 1:
            a = s.get(RTCHAT, {}).get("median", {}).get(key)
            b = s.get(NODE, {}).get("median", {}).get(key)
            row += f" {a / b:.2f}x |" if a is not None and b else " - |"
        lines.append(row)
    lines.append("")
    for k in servers:
        srv = s[k]
        lines.append(
            f"- **{k}**: set-up {_f(srv['setup_s'], '.0f')} s"
            + (f", {srv['setup_failed']:,} users could not join" if srv["setup_failed"] else "")
            + "; exactly once "
            f"{'yes' if srv['exactly_once'] else '**no**'}"
            + (f"; errors: {'; '.join(srv['errors'][:3])}" if srv["errors"] else "")
        )
    lines.append("")
    return "\n".join(lines)


# The figures docs/PERFORMANCE.md shows; the report has them all.
DOC_ROWS = (
    "p50_ms",
    "p99_ms",
    "room_p99_ms",
    "general_p99_ms",
    "server_cores",
    "rss_mb",
    "lost",
)


def doc_block(data: dict[str, Any], json_path: str) -> str:
    """docs/PERFORMANCE.md's traffic section: the targets and the main figures."""
    s = data["summary"]
    base = json_path.removesuffix(".json")
    servers = [k for k in data["servers"] if k in s]
    lines = [
        f"From `{base}.md` ({data['plan']['reps']} windows of {data['plan']['window_s']:g} s, "
        f"medians; {data['started_utc'][:10]}, rtchat at "
        f"{data['environment']['git'].get('commit', '?')[:10]}).",
        "",
        *scale_report.targets_table(s["targets"], "target (issue #13)"),
        "",
        "| figure | " + " | ".join(servers) + " |",
        "|---|" + "---:|" * len(servers),
    ]
    for key, label, fmt in ROWS:
        if key in DOC_ROWS:
            cells = [_f(s[k]["median"].get(key), fmt) for k in servers]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    if any(s[k]["generator_limited"] for k in servers):
        lines += [
            "",
            f"The generators used more than {GENERATOR_BUSY:.0%} of their core in some window: "
            "latency there is partly theirs.",
        ]
    return "\n".join(lines)
