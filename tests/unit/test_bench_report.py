"""benchmarks/run.py's report: /ws and /metrics off beside rtchat-sqlite and the Node seed."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.unit.test_performance_doc import BENCH

SESSION = {"clients": 10, "s2Windows": [1, 50], "s3Rates": [20], "s3Probes": 2}


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> dict[str, ModuleType]:
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_report
    import deployments
    import report_md
    import run

    return {"report": bench_report, "md": report_md, "deployments": deployments, "run": run}


def session_result(us_per_delivery: float, deliveries_per_s: float) -> dict[str, Any]:
    """What loadgen.js answers for a clean session, reduced to what the report reads."""
    phase = {
        "ok": True,
        "deliveries_per_s": deliveries_per_s,
        "server_cpu_pct": 50.0,
        "server_cpu_us_per_delivery": us_per_delivery,
        "gen_cpu_pct": 10.0,
    }
    return {
        "ok": True,
        "s4": {
            **phase,
            "drain_s": 1.0,
            "deliveries": 100,
            "missing": 0,
            "duplicated": 0,
        },
        "s2": [{**phase, "window": w} for w in SESSION["s2Windows"]],
        "s3": [
            {
                **phase,
                "rate_msgs_per_s": r,
                "kept_up": True,
                "p99_ms": 10.0,
                "probe": {"p99_ms": 9.0},
            }
            for r in SESSION["s3Rates"]
        ],
        "machine": {"other_cores": 0.0},
    }


def run_data(bench: dict[str, ModuleType], figures: dict[str, tuple[float, float]]) -> Any:
    by_name = bench["deployments"].BY_NAME
    data: dict[str, Any] = {
        "plan": {"reps": 1, "session": SESSION, "idle": {"stages": []}},
        "servers": {n: by_name[n].description for n in figures},
        "groups": {n: by_name[n].group for n in figures},
        "runs": [
            {"rep": 1, "mode": "session", "server": n, "result": session_result(*f)}
            for n, f in figures.items()
        ],
    }
    data["summary"] = bench["report"].summarize(data)
    return data


def test_a_full_session_run_has_ws_and_metrics_off_beside_socketio(
    bench: dict[str, ModuleType],
) -> None:
    chosen, _left = bench["run"].select(None, ["session"])
    names = [d.name for d in chosen]
    assert {"node-seed", "rtchat-sqlite", "rtchat-ws", "rtchat-nometrics"} <= set(names)
    ws, off = (
        bench["deployments"].BY_NAME["rtchat-ws"],
        bench["deployments"].BY_NAME["rtchat-nometrics"],
    )
    assert ws.transport == "ws"
    assert ws.modes == ("session",)
    ctx = bench["deployments"].NodeContext(0, "a", 1, BENCH, None, None, BENCH)
    assert off.env(ctx)["RTCHAT_METRICS"] == "0"
    assert "RTCHAT_METRICS" not in bench["deployments"].BY_NAME["rtchat-sqlite"].env(ctx)


def test_the_variants_table_gives_ws_and_metrics_ratios(bench: dict[str, ModuleType]) -> None:
    data = run_data(
        bench,
        {
            "node-seed": (10.0, 100_000.0),
            "rtchat-sqlite": (1.1, 800_000.0),
            "rtchat-ws": (1.5, 600_000.0),
            "rtchat-nometrics": (1.0, 1_000_000.0),
        },
    )
    lines = bench["md"].variants_table(data).splitlines()
    assert lines[0] == (
        "| Figure | node-seed | rtchat-sqlite | rtchat-ws | rtchat-nometrics | "
        "/ws / Socket.IO | /ws / node | metrics on / off |"
    )
    cpu = next(ln for ln in lines if ln.startswith("| S2 server CPU µs per delivery, window 50"))
    assert cpu.endswith("| 1.36x | 0.15x | 1.10x |")
    rate = next(ln for ln in lines if ln.startswith("| S2 deliveries/s, window 50"))
    assert rate.endswith("| 0.75x | 6.00x | 0.80x |")
    assert any(ln.startswith("| S3 probe p99 latency at 200 deliveries/s") for ln in lines)
    rows = {
        r["comparison"].label: r
        for r in bench["report"].evaluate(data)
        if r["comparison"].issue == 10
    }
    cost = rows["One node, S2 window 50 CPU per delivery: /metrics on / off"]
    assert cost["ratio"] == pytest.approx(1.1)
    assert cost["status"] == "met"
    speed = rows["One node, S2 window 50 deliveries/s: /ws / Socket.IO"]
    assert speed["ratio"] == pytest.approx(0.75)
    assert speed["status"] == "reported"


def test_metrics_costing_more_than_the_noise_is_not_met(bench: dict[str, ModuleType]) -> None:
    data = run_data(bench, {"rtchat-sqlite": (1.5, 800_000.0), "rtchat-nometrics": (1.0, 1e6)})
    rows = {r["comparison"].label: r["status"] for r in bench["report"].evaluate(data)}
    assert rows["One node, S2 window 50 CPU per delivery: /metrics on / off"] == "not met"
    # Without rtchat-ws in the run, its columns are left out rather than shown empty.
    assert "/ws" not in bench["md"].variants_table(data).splitlines()[0]


def test_a_report_is_written_under_its_day_machine_and_kind(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    data = {"environment": {"machine": "box"}, "runs": [1]}
    started = 1_780_000_000.0  # 2026-05-28 UTC
    base = bench["report"].write_json(data, tmp_path / "out", "scale-smoke", started)
    assert base == tmp_path / "out" / "2026-05-28-box-scale-smoke"
    assert json.loads(base.with_suffix(".json").read_text()) == data
