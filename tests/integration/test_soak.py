"""`make soak` for one minute, as `make test` runs it: churning clients against a real
`rtchat serve`, every pass mark held (benchmarks/soak.py states them). The report is
written to test-artifacts/soak-60s.md."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
REPORT = REPO / "test-artifacts" / "soak-60s.md"


@pytest.mark.timeout(300)
def test_a_minute_of_soak_passes() -> None:
    REPORT.unlink(missing_ok=True)
    result = subprocess.run(
        [sys.executable, "benchmarks/soak.py", "--seconds", "60", "--report", str(REPORT)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    written = REPORT.read_text(encoding="utf-8") if REPORT.exists() else "(no report)"
    assert result.returncode == 0, f"{written}\n{result.stdout}\n{result.stderr}"
    assert written.startswith("# rtchat soak: passed")
