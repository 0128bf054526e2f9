"""The soak's report: what ran, what it counted, the server's memory and descriptors, and
each pass mark with its verdict, as Markdown."""

from __future__ import annotations

import platform
import resource
import statistics
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from soak_clients import Tally
from soak_ledger import Ledger

MIB = 1024 * 1024
TIMELINE_ROWS = 12


@dataclass(frozen=True, slots=True)
class Sample:
    at: float  # seconds since the server started
    rss: int  # bytes
    fds: int
    connections: int
    cpu: float  # seconds of CPU the server used so far


@dataclass(frozen=True, slots=True)
class Verdict:
    second_third_rss: float
    last_third_rss: float
    flat: bool


def commit() -> str:
    """The checked-out commit, read when the run starts (the code that runs)."""
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def _own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _mib(value: float) -> str:
    return f"{value / MIB:.1f} MiB"


def _timeline(samples: list[Sample]) -> list[str]:
    if not samples:
        return ["(no samples)"]
    step = max(1, len(samples) // TIMELINE_ROWS)
    picked = samples[::step]
    if picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    lines = [
        "| t (s) | RSS | descriptors | connections | server CPU (s) |",
        "| ---: | ---: | ---: | ---: | ---: |",
    ]
    lines += [
        f"| {s.at:.0f} | {_mib(s.rss)} | {s.fds} | {s.connections} | {s.cpu:.1f} |" for s in picked
    ]
    return lines


def write_report(
    path: Path,
    *,
    commit: str,
    seconds: float,
    clients: int,
    seed: int,
    rooms: dict[str, int],
    ledger: Ledger,
    tally: Tally,
    samples: list[Sample],
    baseline: Sample,
    baseline_fds: list[str],
    final_fds: list[str],
    memory: Verdict,
    tolerance: float,
    troubles: list[str],
    died_at: float | None,
    exit_code: int | None,
    log_tail: list[str],
    log_path: Path,
    passed: bool,
) -> None:
    counts, done = ledger.counts, tally.counts
    busy = samples[-1].cpu - baseline.cpu if samples else 0.0
    span = samples[-1].at - baseline.at if samples else 0.0
    rss = [s.rss for s in samples] or [0]
    marks = [
        (
            "the server ran until it was asked to stop",
            died_at is None,
            "yes" if died_at is None else f"exited by itself after {died_at:.0f} s",
        ),
        (
            "nothing lost, nothing twice, the stored log gapless",
            ledger.violation_count == 0,
            f"{ledger.violation_count} violations",
        ),
        (
            f"flat memory: last third's median RSS <= second third's x {1 + tolerance:.2f}",
            memory.flat,
            f"{_mib(memory.last_third_rss)} vs {_mib(memory.second_third_rss)}",
        ),
        (
            "descriptors back to the baseline after every client left",
            died_at is None and len(final_fds) <= len(baseline_fds),
            f"{len(final_fds)} vs {len(baseline_fds)}" if died_at is None else "(no server)",
        ),
        ("no traceback or error in the server log", not troubles, f"{len(troubles)} lines"),
        ("the server stopped with exit code 0", exit_code == 0, f"{exit_code}"),
    ]
    lines = [
        f"# rtchat soak: {'passed' if passed else 'FAILED'}",
        "",
        f"- when: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit}",
        f"- machine: {platform.node()}, {platform.python_implementation()} "
        f"{platform.python_version()}, SQLite in a temporary folder",
        f"- client phase: {seconds:g} s, {clients} clients at once (python-socketio over "
        f"long-polling and over WebSocket, raw WebSocket), seed {seed}",
        "",
        "## Pass marks",
        "",
        "| mark | verdict | figure |",
        "| --- | --- | --- |",
        *(f"| {mark} | {'pass' if ok else 'FAIL'} | {figure} |" for mark, ok, figure in marks),
        "",
        "## What the clients did",
        "",
        f"- people: {done.get('users', 0)}; connections: {done.get('connections', 0)}; "
        f"reconnects: {done.get('reconnects', 0)}; acks cut on purpose: "
        f"{done.get('acks_cut', 0)}; interrupted requests: {done.get('interrupted', 0)}",
        f"- messages sent and acknowledged: {counts.get('acks', 0)}; typing bursts: "
        f"{done.get('typed', 0)} (typing reports heard: {done.get('typing_seen', 0)}); "
        f"rooms joined / left: {done.get('joined', 0)} / "
        f"{done.get('left', 0)}",
        f"- handed to clients: {counts.get('live', 0)} live and {counts.get('synced', 0)} by "
        f"sync, each counted once; {counts.get('overlaps', 0)} came both ways on one new "
        f"connection (the reconnect window); {counts.get('before_start', 0)} live ones "
        "predated the client",
        "- stored: " + ", ".join(f"{room} {count}" for room, count in rooms.items()),
        "",
        "## The server",
        "",
        f"- baseline before the clients: {_mib(baseline.rss)} RSS, {baseline.fds} descriptors",
        f"- RSS: min {_mib(min(rss))}, median {_mib(statistics.median(rss))}, max "
        f"{_mib(max(rss))}; peak descriptors {max((s.fds for s in samples), default=0)}, "
        f"after the clients left {len(final_fds)}",
        f"- CPU: {busy:.1f} s in {span:.0f} s "
        f"({100 * busy / span if span else 0:.1f}% of one core); the clients' process used "
        f"{_own_cpu():.1f} s",
        "",
        *_timeline(samples),
    ]
    if len(final_fds) > len(baseline_fds):
        extra = Counter(final_fds) - Counter(baseline_fds)
        lines += ["", "## Descriptors open at the end, not at the start", ""]
        lines += [f"- {n} x `{target}`" for target, n in sorted(extra.items())]
    if ledger.violations:
        lines += ["", "## Violations (first ones)", "", *(f"- {v}" for v in ledger.violations)]
    if troubles:
        lines += ["", "## Server log: errors", "", "```", *troubles[:40], "```"]
    if not passed:
        lines += ["", f"## Server log: the last lines (all of it in `{log_path.name}`)", ""]
        lines += ["```", *log_tail, "```"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
