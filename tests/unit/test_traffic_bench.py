"""benchmarks/traffic.py's bookkeeping: who is where, what was owed, the percentiles."""

from __future__ import annotations

from types import ModuleType

import pytest

from tests.unit.test_performance_doc import BENCH


@pytest.fixture
def traffic(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    import traffic

    return traffic


def test_every_room_has_one_creator_and_the_senders_are_one_percent(traffic: ModuleType) -> None:
    plan = traffic.FULL
    users = [u for g in range(plan.generators) for u in traffic.users_for(plan, g)]
    assert len(users) == plan.users
    assert len({u["name"] for u in users}) == plan.users
    creators = [u["room"] for u in users if u["create"]]
    assert sorted(creators) == sorted({u["room"] for u in users})
    assert len(creators) == plan.rooms == 1000
    assert sum(u["sender"] for u in users) == plan.senders == 100
    for g in range(plan.generators):  # every generator has its share of the talkers
        assert sum(u["sender"] for u in traffic.users_for(plan, g)) == 100 // plan.generators


def test_seqs_sent_are_merged_per_room_and_a_hole_is_reported(traffic: ModuleType) -> None:
    ranges, holes = traffic.merge_sent(
        [{"sent": {"r0001": [3, 5, 3], "general": [1, 1, 1]}}, {"sent": {"r0001": [7, 7, 1]}}]
    )
    assert ranges == {"r0001": [3, 7], "general": [1, 1]}
    assert holes == ["r0001"]  # seq 6 was acknowledged to nobody


def test_percentiles_come_from_the_generators_buckets(traffic: ModuleType) -> None:
    import traffic_report

    hist = traffic_report.ms_hist([1.0] * 98 + [50.0, 200.0])
    got = traffic.percentiles([hist], (0.5, 0.99, 0.999))
    assert got["n"] == 100
    assert got["p50"] == pytest.approx(1.0, rel=0.011)
    assert got["p99"] == pytest.approx(50.0, rel=0.011)
    assert got["p99.9"] == pytest.approx(200.0, rel=0.011)
