"""A short run of the live fuzz (`make fuzz` runs a long one): a real `rtchat serve`, a
fixed seed, both transports; no traceback, crash, hang or leak."""

from __future__ import annotations

from pathlib import Path

from tests.fuzz.live import run

SHORT_RUN = 300
SEED = 12


async def test_a_short_live_fuzz_finds_nothing(tmp_path: Path) -> None:
    report = await run(SHORT_RUN, SEED, tmp_path)
    assert report.failures == [], report.summary()
    assert sum(report.cases.values()) == SHORT_RUN
    assert report.before[0] > 0
