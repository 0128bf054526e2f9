"""The scale benchmark's figures (benchmarks/scale.py): medians, Markdown and PNG curves.

Medians are over repetitions, per server and step. Ratios are rtchat's figure over the
Node seed server's at the same step of the same run.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

# Targets of issue #13 that this benchmark measures.
KB_PER_CONN_MAX = 3.0
ACCEPTS_PER_S_MIN = 5000.0
US_PER_DELIVERY_MAX = 1.0
FLAT_WITHIN = 2.0  # CPU per delivery from rooms of 100 to the biggest, max over min
# From the latency curve's runs (run.py's S4 and S3 on a fresh server), over Node's.
S3_RATE, S3_PROBE_P99_RATIO_MAX = 20, 0.5  # messages/s to 1,000 clients
S4_DRAIN_RATIO_MAX = 0.2


def _median(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


def summarize(data: dict[str, Any]) -> dict[str, Any]:
    """Per server: one row per step with the medians over repetitions."""
    out: dict[str, Any] = {}
    for server in dict.fromkeys(r["server"] for r in data["runs"]):
        runs = [r for r in data["runs"] if r["server"] == server]
        rows = []
        for target in dict.fromkeys(s["target"] for r in runs for s in r["steps"]):
            steps = [s for r in runs for s in r["steps"] if s["target"] == target]
            bc = [s["broadcast"] for s in steps]
            rows.append(
                {
                    "target": target,
                    "open": min(s["open"] for s in steps),
                    "reps": len(steps),
                    "accepts_per_s": _median([s["accepts_per_s"] for s in steps]),
                    "rss_mb": _median([s["rss_kb"] / 1024 for s in steps]),
                    "rss_per_conn_kb": _median([s["rss_per_conn_kb"] for s in steps]),
                    "members": _median([b["members"] for b in bc]),
                    "deliveries_per_s": _median([b["deliveries_per_s"] for b in bc]),
                    "us_per_delivery": _median([b["server_cpu_us_per_delivery"] for b in bc]),
                    "kernel_us_per_delivery": _median(
                        [
                            1e6 * b["server_kernel_cpu_s"] / b["delivered"]
                            if b.get("server_kernel_cpu_s") is not None and b["delivered"]
                            else None
                            for b in bc
                        ]
                    ),
                    "writes_per_delivery": _median([b.get("write_calls_per_delivery") for b in bc]),
                    "exactly_once": all(b["ok"] for b in bc),
                    "lost": sum(b["lost"] for b in bc),
                    "duplicated": sum(b["duplicated"] for b in bc),
                    "room_p50_ms": _median([(s.get("probe") or {}).get("p50_ms") for s in steps]),
                    "room_p99_ms": _median([(s.get("probe") or {}).get("p99_ms") for s in steps]),
                }
            )
        stopped = [r["stopped"] for r in runs if r.get("stopped")]
        out[server] = {
            "rows": rows,
            "processes": runs[0].get("processes"),
            "rss_base_mb": _median([r.get("rss_base_kb", 0) / 1024 for r in runs]),
            "rss_base_mb_by_process": [
                kb / 1024 for kb in runs[0].get("rss_base_kb_by_process", [])
            ],
            "stopped": stopped[0] if stopped else None,
            "errors": [e for r in runs for e in r.get("errors", [])],
            "ok": all(r["ok"] for r in runs),
        }
    out["curves"] = curve_rows(data)
    out["s4_drain_s"] = {
        server: _median(
            [
                c["result"]["s4"]["drain_s"]
                for c in data.get("curves", [])
                if c["server"] == server and "s4" in c["result"]
            ]
        )
        for server in dict.fromkeys(c["server"] for c in data.get("curves", []))
    }
    out["targets"] = targets(out)
    return out


def curve_rows(data: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per server, per S3 rate: offered deliveries/s, probe p50/p99, kept up in how many."""
    out: dict[str, list[dict[str, Any]]] = {}
    for server in dict.fromkeys(c["server"] for c in data.get("curves", [])):
        phases = [
            p for c in data["curves"] if c["server"] == server for p in c["result"].get("s3", [])
        ]
        rows = []
        for rate in dict.fromkeys(p["rate_msgs_per_s"] for p in phases):
            at = [p for p in phases if p["rate_msgs_per_s"] == rate]
            probes = [p.get("probe") or {} for p in at]
            rows.append(
                {
                    "rate": rate,
                    "offered_per_s": at[0]["target_deliveries_per_s"],
                    "delivered_per_s": _median([p["deliveries_per_s"] for p in at]),
                    "probe_p50_ms": _median([p.get("p50_ms") for p in probes]),
                    "probe_p99_ms": _median([p.get("p99_ms") for p in probes]),
                    "server_cpu_pct": _median([p["server_cpu_pct"] for p in at]),
                    "kept_up": sum(1 for p in at if p["kept_up"]),
                    "reps": len(at),
                }
            )
        out[server] = rows
    return out


def _row(summary: dict[str, Any], server: str, target: int) -> dict[str, Any] | None:
    rows = summary.get(server, {}).get("rows", [])
    return next((r for r in rows if r["target"] == target and r["open"] >= target), None)


def targets(s: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target of issue #13 this benchmark measures, with its figure and met or not."""
    out: list[dict[str, Any]] = []
    single = s.get("rtchat-sqlite", {}).get("rows", [])
    full = [r for r in single if r["open"] >= r["target"]]
    if full:
        top = full[-1]
        out.append(
            {
                "target": f"one process at {top['target']:,} connections: ≤ {KB_PER_CONN_MAX:g} KB "
                "each",
                "figure": f"{top['rss_per_conn_kb']:.2f} KB",
                "met": top["rss_per_conn_kb"] <= KB_PER_CONN_MAX,
            }
        )
        out.append(
            {
                "target": f"accepts up to {top['target']:,}: ≥ {ACCEPTS_PER_S_MIN:,.0f}/s",
                "figure": f"{top['accepts_per_s']:,.0f}/s (last step)",
                "met": top["accepts_per_s"] >= ACCEPTS_PER_S_MIN,
            }
        )
    workers = next((k for k in s if k.startswith("rtchat-workers")), None)
    if workers and s[workers]["rows"]:
        w = s[workers]["rows"][-1]
        out.append(
            {
                "target": f"{w['target']:,} idle across {s[workers]['processes'] - 1} workers: "
                f"≤ {KB_PER_CONN_MAX:g} KB each in total",
                "figure": f"{w['rss_per_conn_kb']:.2f} KB ({w['open']:,} open; "
                f"{s[workers]['rss_base_mb']:.0f} MB before the first)",
                "met": w["open"] >= w["target"] and w["rss_per_conn_kb"] <= KB_PER_CONN_MAX,
            }
        )
        out.append(
            {
                "target": f"a broadcast to all {w['open']:,}: ≤ {US_PER_DELIVERY_MAX:g} µs "
                "server CPU per delivery",
                "figure": f"{w['us_per_delivery']:.3f} µs, {w['deliveries_per_s']:,.0f} "
                "deliveries/s",
                "met": w["us_per_delivery"] <= US_PER_DELIVERY_MAX,
            }
        )
    curve = [(r["members"], r["us_per_delivery"]) for r in full if r["members"] >= 100]
    if workers:
        curve += [
            (w["members"], w["us_per_delivery"])
            for w in s[workers]["rows"]
            if w["open"] >= w["target"]
        ]
    if len(curve) >= 2:
        us = [u for _, u in curve]
        out.append(
            {
                "target": f"CPU per delivery flat within {FLAT_WITHIN:g}x from rooms of "
                f"{curve[0][0]:,.0f} to {curve[-1][0]:,.0f}",
                "figure": f"max/min {max(us) / min(us):.2f}x ({min(us):.3f}-{max(us):.3f} µs)",
                "met": max(us) / min(us) <= FLAT_WITHIN,
            }
        )
    at = {
        server: next((r for r in rows if r["rate"] == S3_RATE), None)
        for server, rows in s.get("curves", {}).items()
    }
    ours, node = at.get("rtchat-sqlite"), at.get("node-seed")
    if ours and node and ours["probe_p99_ms"] and node["probe_p99_ms"]:
        ratio = ours["probe_p99_ms"] / node["probe_p99_ms"]
        out.append(
            {
                "target": f"S3 at {ours['offered_per_s']:,} deliveries/s: probe p99 ≤ "
                f"{S3_PROBE_P99_RATIO_MAX:g}x Node's",
                "figure": f"{ratio:.2f}x ({ours['probe_p99_ms']:.1f} vs "
                f"{node['probe_p99_ms']:.1f} ms)",
                "met": ratio <= S3_PROBE_P99_RATIO_MAX,
            }
        )
    drain = s.get("s4_drain_s", {})
    if drain.get("rtchat-sqlite") and drain.get("node-seed"):
        ratio = drain["rtchat-sqlite"] / drain["node-seed"]
        out.append(
            {
                "target": f"S4 join storm of 1,000 drained in ≤ {S4_DRAIN_RATIO_MAX:g}x "
                "Node's time",
                "figure": f"{ratio:.2f}x ({drain['rtchat-sqlite']:.2f} vs "
                f"{drain['node-seed']:.2f} s)",
                "met": ratio <= S4_DRAIN_RATIO_MAX,
            }
        )
    return out


# ---------------------------------------------------------------- Markdown


def load(path: Path) -> dict[str, Any]:
    """A results JSON with its summary recomputed by this code (as perf_doc does)."""
    data: dict[str, Any] = json.loads(path.read_text())
    data["summary"] = summarize(data)
    return data


def doc_block(data: dict[str, Any], json_path: str) -> str:
    """docs/PERFORMANCE.md's scale section: the targets, one table, the curves."""
    s = data["summary"]
    base = json_path.removesuffix(".json")
    lines = [
        f"From `{base}.md` ({data['plan']['reps']} repetitions, medians; "
        f"{data['started_utc'][:10]}, rtchat at "
        f"{data['environment']['git'].get('commit', '?')[:10]}).",
        "",
        *targets_table(s["targets"], "target (issue #13)"),
        "",
        "| server | connections | KB/conn | accepts/s | CPU µs/delivery (broadcast to all) "
        "| p99 in a room of 1,000, ms |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for server in data["servers"]:
        for r in s.get(server, {}).get("rows", []):
            if r["target"] < 1000:
                continue
            lines.append(
                f"| {server} | {r['open']:,}{'' if r['open'] >= r['target'] else ' (stopped)'} "
                f"| {_f(r['rss_per_conn_kb'], '.2f')} | {_f(r['accepts_per_s'], ',.0f')} "
                f"| {_f(r['us_per_delivery'], '.3f')} | {_f(r['room_p99_ms'], '.1f')} |"
            )
    stopped = s.get("node-seed", {}).get("stopped")
    if stopped:
        lines += [
            "",
            f"The Node seed server stopped at {stopped['at']:,} of "
            f"{stopped['target']:,}: " + "; ".join(stopped["errors"][:2]),
        ]
    if s.get("curves"):
        lines += [
            "",
            "| server | offered deliveries/s | probe p99 ms | kept up |",
            "|---|---:|---:|---|",
            *(
                f"| {server} | {r['offered_per_s']:,} | {_f(r['probe_p99_ms'], '.1f')} | "
                f"{r['kept_up']}/{r['reps']} |"
                for server, rows in s["curves"].items()
                for r in rows
            ),
        ]
    lines += [
        "",
        f"![RSS against connections](../{base}-rss.png)",
        f"![CPU per delivery against room size](../{base}-cpu.png)",
        f"![p99 against offered load](../{base}-latency.png)",
    ]
    return "\n".join(lines)


def targets_table(rows: list[dict[str, Any]], head: str = "target") -> list[str]:
    """Markdown rows of targets: each with its figure, and met or not."""
    return [
        f"| {head} | figure | met |",
        "|---|---|---|",
        *(f"| {t['target']} | {t['figure']} | {'yes' if t['met'] else '**no**'} |" for t in rows),
    ]


def _f(v: float | None, fmt: str) -> str:
    return "-" if v is None else format(v, fmt)


def markdown(data: dict[str, Any], name: str) -> str:
    s = data["summary"]
    env = data["environment"]
    lim = data["limits"]
    lines = [
        f"# Scale benchmark — {data['started_utc']}",
        "",
        f"`python benchmarks/scale.py{' --smoke' if data['kind'] == 'smoke' else ''}`, "
        f"{data['plan']['reps']} repetition(s), {data['duration_s'] / 60:.1f} min. Medians over "
        "repetitions. Idle Socket.IO clients over WebSocket, opened by several generator "
        "processes (benchmarks/scalegen.js), then a broadcast to all of them at every step.",
        "",
        f"Machine: {env['cpu_model']}, {env['cpu_count']} CPUs, {env['memory_mb']:,} MB, "
        f"kernel {env['kernel']}; Python {env['python']}, Node {env['node']}; "
        f"rtchat at {env['git'].get('commit', '?')[:10]}; load average at the start "
        f"{' '.join(env['loadavg_at_start'])}; servers on core {env['server_cpu']}, "
        f"generators on core {env['generator_cpu']} (the workers run may use both).",
        "",
        "Limits it ran under: open files per process "
        f"{lim['nofile_per_process'][0]:,} (hard {lim['nofile_per_process'][1]:,}); "
        f"ephemeral ports {lim['ip_local_port_range']} per source address; somaxconn "
        f"{lim['somaxconn']}, tcp_max_syn_backlog {lim['tcp_max_syn_backlog']}; sources "
        f"{lim['source_addresses']}.",
        "",
        "What a broadcast costs is mostly its write calls: on loopback a write also does the "
        "receiving side's TCP work and wakes the reader, all counted to the server. Each "
        f"broadcast sends about {data['plan']['deliveries']:,} deliveries' worth of messages "
        "back to back (so fewer messages the more connections), and rtchat writes what a "
        "connection has queued in one call: the write calls per delivery column says how many "
        "messages shared a write, and why CPU per delivery grows where a broadcast has few "
        "messages to share them.",
        "",
        "## Targets (issue #13)",
        "",
        *targets_table(s["targets"]),
        "",
    ]
    for server, desc in data["servers"].items():
        srv = s.get(server)
        if srv is None:
            continue
        lines += [
            f"## {server}",
            "",
            f"{desc}. {srv['processes']} process(es), {srv['rss_base_mb']:.1f} MB RSS before "
            "the first connection"
            + (
                f" ({', '.join(f'{mb:.1f}' for mb in srv['rss_base_mb_by_process'])} MB each)"
                if srv["processes"] and srv["processes"] > 1
                else ""
            )
            + ".",
            "",
            "| connections | open | accepts/s | RSS MB | KB/conn | broadcast deliveries/s "
            "| CPU µs/delivery | of it in the kernel | write calls/delivery | exactly once "
            "| probe room p50 / p99 ms |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
        ]
        for r in srv["rows"]:
            lines.append(
                f"| {r['target']:,} | {r['open']:,} | {_f(r['accepts_per_s'], ',.0f')} | "
                f"{_f(r['rss_mb'], ',.1f')} | {_f(r['rss_per_conn_kb'], '.2f')} | "
                f"{_f(r['deliveries_per_s'], ',.0f')} | {_f(r['us_per_delivery'], '.3f')} | "
                f"{_f(r.get('kernel_us_per_delivery'), '.3f')} | "
                f"{_f(r.get('writes_per_delivery'), '.3f')} | "
                + (
                    "yes"
                    if r["exactly_once"]
                    else f"**no** ({r['lost']:,} lost, {r['duplicated']:,} twice)"
                )
                + f" | {_f(r['room_p50_ms'], '.1f')} / {_f(r['room_p99_ms'], '.1f')} |"
            )
        if srv["stopped"]:
            st = srv["stopped"]
            lines += [
                "",
                f"Stopped at {st['at']:,} of {st['target']:,} connections: "
                + "; ".join(st["errors"][:3]),
            ]
        if srv["errors"]:
            lines += ["", "Errors: " + "; ".join(srv["errors"][:5])]
        lines.append("")
    if s.get("curves"):
        lines += [
            "## Latency against offered load (S3, probe clients)",
            "",
            "| server | messages/s | offered deliveries/s | probe p50 ms | probe p99 ms "
            "| server CPU % | kept up |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for server, rows in s["curves"].items():
            lines += [
                f"| {server} | {r['rate']} | {r['offered_per_s']:,} | "
                f"{_f(r['probe_p50_ms'], '.1f')} | {_f(r['probe_p99_ms'], '.1f')} | "
                f"{_f(r['server_cpu_pct'], '.0f')} | {r['kept_up']}/{r['reps']} |"
                for r in rows
            ]
        lines.append("")
    ratios = _ratios(s)
    if ratios:
        lines += [
            "## rtchat over the Node seed server, same step",
            "",
            "| connections | KB/conn | accepts/s | CPU µs/delivery |",
            "|---:|---:|---:|---:|",
            *ratios,
            "",
        ]
    if data["kind"] != "smoke":
        lines += [
            "## Curves",
            "",
            f"![RSS against connections]({name}-rss.png)",
            "",
            f"![CPU per delivery against room size]({name}-cpu.png)",
            "",
        ]
    return "\n".join(lines)


def _ratios(s: dict[str, Any]) -> list[str]:
    out = []
    for r in s.get("rtchat-sqlite", {}).get("rows", []):
        n = _row(s, "node-seed", r["target"])
        if n is None or r["open"] < r["target"]:
            continue

        def ratio(key: str, row: dict[str, Any] = r, node: dict[str, Any] = n) -> str:
            a, b = row[key], node[key]
            return f"{a / b:.2f}x" if a is not None and b else "-"

        out.append(
            f"| {r['target']:,} | {ratio('rss_per_conn_kb')} | {ratio('accepts_per_s')} "
            f"| {ratio('us_per_delivery')} |"
        )
    return out


# ---------------------------------------------------------------- PNG curves


def plots(data: dict[str, Any], base: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}")

    s = data["summary"]
    series = {k: v["rows"] for k, v in s.items() if isinstance(v, dict) and "rows" in v}
    written = []
    for key, ylabel, suffix, title in (
        ("rss_mb", "server RSS (MB, all its processes)", "rss", "Memory against idle connections"),
        (
            "us_per_delivery",
            "server CPU per delivery (µs)",
            "cpu",
            "CPU per delivery against room size (a broadcast to every connection)",
        ),
    ):
        fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
        for server, rows in series.items():
            pts = [
                (r["members"] if suffix == "cpu" else r["open"], r[key])
                for r in rows
                if r[key] is not None and r["open"] >= r["target"]
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker="o", label=server)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(plain)
        if suffix == "cpu":
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(plain)
            ax.yaxis.set_minor_formatter(plain)
        ax.set_xlabel("connections in the room" if suffix == "cpu" else "idle connections")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = base.with_name(f"{base.name}-{suffix}.png")
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    if s.get("curves"):
        fig, ax = plt.subplots(figsize=(7.5, 4.5), dpi=110)
        for server, rows in s["curves"].items():
            pts = [
                (r["offered_per_s"], r["probe_p99_ms"])
                for r in rows
                if r["probe_p99_ms"] is not None
            ]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, marker="o", label=server)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_major_formatter(plain)
        ax.yaxis.set_major_formatter(plain)
        ax.set_xlabel("offered deliveries/s (1,000 clients hear every message)")
        ax.set_ylabel("p99 at the probe clients (ms)")
        ax.set_title("Latency against offered load, until saturation")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = base.with_name(f"{base.name}-latency.png")
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
