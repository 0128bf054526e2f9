"""`make bench-smoke`: the smoke runs of run.py, scale.py and traffic.py, side by side.

    python benchmarks/smoke.py

Each smoke asserts no timings, only that every message arrived exactly once, and each
keeps its servers, ports, Redis, database and report of its own; most of their time is
spent waiting on start-ups and the network, so running them at once costs about as long
as the longest one. Each one's output is shown whole when it ends; the exit code is 1 if
any failed.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from run import ensure_npm_deps

BENCH = Path(__file__).resolve().parent
SMOKES = ("run.py", "scale.py", "traffic.py")
DEADLINE_S = 900


def main() -> int:
    # Once, before they start: three `npm ci` at once in one folder trip over each other.
    ensure_npm_deps()
    failed = []
    with tempfile.TemporaryDirectory(prefix="rtchat-smoke-") as tmp:
        started = time.monotonic()
        running = []
        for script in SMOKES:
            out = (Path(tmp) / script).with_suffix(".log").open("w+")
            argv = [sys.executable, str(BENCH / script), "--smoke"]
            running.append((script, out, subprocess.Popen(argv, stdout=out, stderr=out)))
        for script, out, process in running:
            left = max(1.0, DEADLINE_S - (time.monotonic() - started))
            try:
                code = process.wait(timeout=left)
            except subprocess.TimeoutExpired:
                # Ctrl-C: the smoke's own clean-up stops the servers it started.
                process.send_signal(signal.SIGINT)
                try:
                    code = process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    code = process.wait()
            out.seek(0)
            took = time.monotonic() - started
            print(f"==== {script} --smoke: exit {code} after {took:.0f} s", flush=True)
            print(out.read(), flush=True)
            out.close()
            if code != 0:
                failed.append(script)
    if failed:
        print(f"bench-smoke FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
