"""docs/PERFORMANCE.md's figures, generated from results JSON so prose and table agree.

    python benchmarks/perf_doc.py            # refresh from the JSON the doc names
    python benchmarks/perf_doc.py RESULTS.json
    python benchmarks/perf_doc.py --check    # exit 1 if the doc differs from its JSON

Every figure the doc cites sits between `<!-- bench-NAME:start ... -->` and
`<!-- bench-NAME:end -->` markers and is rendered here from the results JSON, with the
summary recomputed by the current bench_report (so a JSON from an older harness reads the
same way). The text outside the markers quotes no measurement. `make bench` refreshes it
after a full run; tests/unit/test_performance_doc.py fails when it is stale.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import bench_report
import report_md
import scale_report
import traffic_report
from report_md import cell, fmt

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DOC = REPO / "docs" / "PERFORMANCE.md"
BLOCK = re.compile(
    r"<!-- bench-(?P<name>[\w-]+):start(?P<args>[^>]*)-->\n.*?<!-- bench-(?P=name):end -->", re.S
)


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    data["summary"] = bench_report.summarize(data)
    data["_path"] = path.relative_to(REPO).as_posix() if path.is_relative_to(REPO) else str(path)
    return data


def _stat(data: dict[str, Any], name: str, key: str) -> dict[str, float] | None:
    return data["summary"]["stats"].get(name, {}).get(key)


def _med(data: dict[str, Any], name: str, key: str) -> str:
    s = _stat(data, name, key)
    return fmt(s["median"]) if s else "n/a"


def _range(data: dict[str, Any], name: str, key: str) -> str:
    s = _stat(data, name, key)
    return f"{fmt(s['min'])}-{fmt(s['max'])}" if s else "n/a"


def _kept(data: dict[str, Any], name: str, key: str) -> str:
    s = _stat(data, name, key)
    return f"{round(s['sum'])}/{s['n']}" if s else "n/a"


def provenance(data: dict[str, Any]) -> str:
    env = data["environment"]
    git = env.get("git")
    if git is None:
        measured = "git commit not recorded (a run from before the harness recorded it)"
    else:
        measured = f"commit `{git['commit'][:12]}`" + (
            f" with uncommitted changes ({len(git['changed_files'])} files)"
            if git["dirty"]
            else ", clean tree"
        )
    report = data["_path"].removesuffix(".json")
    return (
        f"Full run of {data['started_utc']}, {env['cpu_model']} ({env['cpu_count']} cores), "
        f"{measured}; report `{report}.md`."
    )


# ---------------------------------------------------------------- blocks


def block_summary(data: dict[str, Any]) -> str:
    return provenance(data) + "\n\n" + report_md.summary_table(data, "single")


def block_reading(data: dict[str, Any]) -> str:
    """The figures the "Reading it" prose cites, all from this run."""
    ses = data["plan"]["session"]
    w_lo, w_hi = ses["s2Windows"][0], ses["s2Windows"][-1]
    r_lo, r_hi = ses["s3Rates"][0], ses["s3Rates"][-1]
    n = ses["clients"]
    cpu = f"S2 window {w_hi}: server CPU us/delivery"
    out = [
        f"- **Server CPU per delivery**, S2 window {w_hi} (fair even where the generator is "
        f"the limit): rtchat {_med(data, 'rtchat-sqlite', cpu)} µs with SQLite and "
        f"{_med(data, 'rtchat-memory', cpu)} µs with storage off, the Node seed server "
        f"{_med(data, 'node-seed', cpu)} µs, python-socketio "
        f"{_med(data, 'python-socketio', cpu)} µs.",
    ]
    cal = data.get("calibration")
    if cal and cal.get("s2"):
        s2 = {s["window"]: s for s in cal["s2"]}
        lo, hi = s2.get(w_lo), s2.get(w_hi)
        if lo and hi:
            floor = 1e6 * lo["server_cpu_pct"] / 100 / lo["deliveries_per_s"]
            out.append(
                f"- **Generator ceiling** (one session against the null server): "
                f"{fmt(lo['deliveries_per_s'])} deliveries/s at window {w_lo} with the "
                f"generator at {fmt(lo['gen_cpu_pct'])}% of its core, "
                f"{fmt(hi['deliveries_per_s'])} at window {w_hi} "
                f"({fmt(hi['gen_cpu_pct'])}%); the null server, one `write()` per delivery, "
                f"spent {fmt(floor)} µs of CPU per delivery. The Node seed server's S2 "
                f"deliveries/s ({_range(data, 'node-seed', f'S2 window {w_lo}: deliveries/s')} "
                f"at window {w_lo}, {_range(data, 'node-seed', f'S2 window {w_hi}: deliveries/s')}"
                f" at window {w_hi}) are below that ceiling, so they measure the server.",
            )
    kept_hi = f"S3 {r_hi} msg/s: kept up (1 = yes)"
    kept_lo = f"S3 {r_lo} msg/s: kept up (1 = yes)"
    out.append(
        f"- **Kept up** (repetitions): at {r_hi * n:,} deliveries/s the Node seed server "
        f"{_kept(data, 'node-seed', kept_hi)}, rtchat with SQLite "
        f"{_kept(data, 'rtchat-sqlite', kept_hi)}; python-socketio "
        f"{_kept(data, 'python-socketio', kept_lo)} even at {r_lo * n:,}/s (its S2: "
        f"{_range(data, 'python-socketio', f'S2 window {w_lo}: deliveries/s')} deliveries/s at "
        f"window {w_lo}). A server that does not keep up builds a backlog, and its latency is "
        "the backlog's age.",
    )
    s4 = "S4 join storm: deliveries"
    out.append(
        "- **S4 deliveries** differ by server (how many clients are already connected when "
        "each join is announced depends on how the server interleaves handshakes and "
        f"broadcasts): Node {_med(data, 'node-seed', s4)}, python-socketio "
        f"{_med(data, 'python-socketio', s4)}, rtchat {_med(data, 'rtchat-sqlite', s4)} (SQLite) "
        f"and {_med(data, 'rtchat-memory', s4)} (memory). Compare deliveries/s and CPU per "
        "delivery as well as the time.",
    )
    env = data["environment"]
    other = [
        s["median"]
        for st in data["summary"]["stats"].values()
        for k, s in st.items()
        if "other processes" in k
    ]
    quiet = [r["result"]["quiet_before"] for r in data["runs"] if r["result"].get("quiet_before")]
    busy = [q for q in quiet if q["busy_cores"] >= 0.3]
    noise = (
        f"- **Noise.** Load average at the start: {' '.join(env['loadavg_at_start'])}. "
        f"Other processes used {min(other):.2f}-{max(other):.2f} cores (median per server and "
        "scenario) while servers were measured"
        if other
        else "- **Noise.** Not recorded"
    )
    if quiet:
        noise += f"; {len(busy)} of {len(quiet)} server runs started on a busier machine"
    out.append(
        noise + ". On a shared machine, a difference under about 20% is not significant; "
        "the report's Noise section has the figure for every run."
    )
    return "\n".join(out)


def _placement_text(data: dict[str, Any], group: str) -> str:
    for r in data["runs"]:
        if data.get("groups", {}).get(r["server"]) == group and r["result"].get("placement_cores"):
            p = r["result"]["placement_cores"]
            return "Cores in this run: " + "; ".join(f"{k} on {v}" for k, v in p.items()) + "."
    return ""


def block_cluster(data: dict[str, Any]) -> str:
    names = report_md.names_in(data, "cluster")
    if not names:
        return (
            f"No cluster run in {data['_path']} (it predates the cluster scenario): the "
            "next full `make bench` fills this in."
        )
    out = [provenance(data), "", report_md.summary_table(data, "cluster")]
    placed = _placement_text(data, "cluster")
    if placed:
        out += ["", placed]
    left = [x for x in data.get("left_out", []) if x.startswith("rtchat-cluster")]
    if left:
        out += ["", "Not in this run: " + "; ".join(left) + "."]
    return "\n".join(out)


def block_variants(data: dict[str, Any]) -> str:
    if not {"rtchat-ws", "rtchat-nometrics"} & set(data["servers"]):
        return (
            f"No /ws or /metrics-off run in {data['_path']} (it predates them): the next full "
            "`make bench` fills this in."
        )
    return provenance(data) + "\n\n" + report_md.variants_table(data)


def block_targets(data: dict[str, Any]) -> str:
    return provenance(data) + "\n\n" + "\n".join(report_md.targets_table(data))


def block_polling(data: dict[str, Any]) -> str:
    out = []
    for group in ("polling", "workers"):
        names = report_md.names_in(data, group)
        if names:
            out += [f"{report_md.GROUP_TITLES[group]}:", "", report_md.summary_table(data, group)]
            placed = _placement_text(data, group)
            out += ["", placed, ""] if placed else [""]
    if not out:
        return (
            f"No long-polling or workers run in {data['_path']} (it predates them): the next "
            "full `make bench` fills this in."
        )
    left = [x for x in data.get("left_out", []) if "polling" in x or "workers" in x]
    if left:
        out += ["Not in this run: " + "; ".join(left) + "."]
    return provenance(data) + "\n\n" + "\n".join(out).strip()


# Issue #5's before/after rows: (figure, label, op, target ratio), from two fixed runs.
BEFORE_AFTER = [
    ("S1 10000 idle: KB per connection", "S1 RSS per idle connection at 10,000, KB", "<=", 0.5),
    ("S1 10000 idle: connections accepted/s", "S1 connections accepted/s, 5,000-10,000", ">=", 1),
    ("S2 window 1: deliveries/s", "S2 deliveries/s to 1,000, window 1", None, 0),
    ("S2 window 50: deliveries/s", "S2 deliveries/s to 1,000, window 50", ">=", 3),
    ("S2 window 50: server CPU us/delivery", "S2 server CPU µs per delivery, window 50", None, 0),
    ("S3 20 msg/s: latency p99, ms", "S3 p99 at 20,000 deliveries/s, ms", "<=", 1),
    ("S3 100 msg/s: kept up (1 = yes)", "S3 at 100,000 deliveries/s: kept up", "keeps up", 0),
    ("S3 100 msg/s: latency p99, ms", "S3 p99 at 100,000 deliveries/s, ms", "<=", 0.1),
    ("S4 join storm: time to drain, s", "S4 join storm, time to drain, s", "<=", 0.5),
]


def block_before_after(before: dict[str, Any], after: dict[str, Any]) -> str:
    out = [
        "| Figure | Node (before / after run) | rtchat before (python-socketio) | "
        "rtchat now (own engine) | target | met |",
        "|---|---|---|---|---|---|",
    ]
    rt = "rtchat-sqlite"
    for key, label, op, target in BEFORE_AFTER:
        nb, na = _stat(before, "node-seed", key), _stat(after, "node-seed", key)
        rb, ra = _stat(before, rt, key), _stat(after, rt, key)
        if not (nb and na and rb and ra):
            continue
        # As in the tables: memory and CPU per delivery stay fair when the generator is busy.
        bound = key.split(":")[0] in after["summary"]["generator_bound"].get(rt, []) and not (
            key.endswith("KB per connection") or "us/delivery" in key
        )
        if op == "keeps up":
            cells = [f"{cell(nb, key)} / {cell(na, key)}", cell(rb, key), cell(ra, key)]
            met = "yes" if ra["sum"] == ra["n"] else "no"
            goal = "keeps up"
        else:
            rbr, rar = rb["median"] / nb["median"], ra["median"] / na["median"]
            cells = [
                f"{fmt(nb['median'])} / {fmt(na['median'])}",
                f"{fmt(rb['median'])} ({rbr:.2f}x)",
                f"{fmt(ra['median'])} ({rar:.2f}x)" + (" †" if bound else ""),
            ]
            if op is None:
                met, goal = "—", "—"
            else:
                ok = rar >= target if op == ">=" else rar <= target
                met = ("yes" if ok else "no") + (" (lower bound)" if bound and op == ">=" else "")
                goal = f"{op} {target:g}x"
        out.append(f"| {label} | " + " | ".join([*cells, goal, met]) + " |")
    return "\n".join(out)


# ---------------------------------------------------------------- the document


def _args(raw: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", raw))


def latest_json(text: str) -> Path:
    """The results JSON the doc's summary block names."""
    m = re.search(r"report `(benchmarks/results/[^`]+)\.md`", text)
    if m is None:
        raise SystemExit("docs/PERFORMANCE.md names no report in its summary block")
    return REPO / f"{m.group(1)}.json"


def render(text: str, results: Path) -> str:
    """`text` with every generated block rendered again from `results` (and fixed runs)."""
    data = load(results)
    renderers = {
        "summary": lambda _a: block_summary(data),
        "reading": lambda _a: block_reading(data),
        "cluster": lambda _a: block_cluster(data),
        "variants": lambda _a: block_variants(data),
        "targets": lambda _a: block_targets(data),
        "polling": lambda _a: block_polling(data),
        "before-after": lambda a: block_before_after(
            load(REPO / a["before"]), load(REPO / a["after"])
        ),
        "scale": lambda a: scale_report.doc_block(
            scale_report.load(REPO / a["results"]), a["results"]
        ),
        "traffic": lambda a: traffic_report.doc_block(
            json.loads((REPO / a["results"]).read_text()), a["results"]
        ),
    }

    def one(m: re.Match[str]) -> str:
        name, raw = m.group("name"), m.group("args")
        body = renderers[name](_args(raw))
        return f"<!-- bench-{name}:start{raw}-->\n{body}\n<!-- bench-{name}:end -->"

    return BLOCK.sub(one, text)


def point_doc_at(doc: Path, block: str, json_path: str) -> None:
    """Make the doc's `block` name `json_path` as its results (it is rendered from there)."""
    text = doc.read_text()
    doc.write_text(
        re.sub(
            rf"<!-- bench-{block}:start results=\S+ -->",
            f"<!-- bench-{block}:start results={json_path} -->",
            text,
        )
    )


def refresh(doc: Path, results: Path) -> None:
    doc.write_text(render(doc.read_text(), results))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("results", nargs="?", type=Path, help="default: the JSON the doc names")
    parser.add_argument("--check", action="store_true", help="exit 1 if the doc is stale")
    args = parser.parse_args(argv)
    text = DOC.read_text()
    results = (args.results or latest_json(text)).resolve()
    new = render(text, results)
    if args.check:
        if new != text:
            print(
                "docs/PERFORMANCE.md is stale: run python benchmarks/perf_doc.py", file=sys.stderr
            )
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
