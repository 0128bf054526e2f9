"""docs/PERFORMANCE.md quotes only figures of the results JSON it names (issue #12)."""

from __future__ import annotations

import re
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).parents[2] / "benchmarks"
BLOCKS = {
    "summary",
    "reading",
    "variants",
    "cluster",
    "targets",
    "polling",
    "before-after",
    "scale",
    "traffic",
}


@pytest.fixture
def perf_doc(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCH))
    import perf_doc

    return perf_doc


def test_performance_doc_is_generated_from_its_results(perf_doc: ModuleType) -> None:
    text = perf_doc.DOC.read_text()
    assert perf_doc.render(text, perf_doc.latest_json(text)) == text, (
        "docs/PERFORMANCE.md is stale: run `.venv/bin/python benchmarks/perf_doc.py`"
    )


def test_every_generated_block_is_in_the_doc(perf_doc: ModuleType) -> None:
    names = set(re.findall(r"<!-- bench-([\w-]+):start", perf_doc.DOC.read_text()))
    assert names == BLOCKS


def test_a_figure_edited_by_hand_is_put_back(perf_doc: ModuleType) -> None:
    text = perf_doc.DOC.read_text()
    row = re.search(r"^\| S\d[^|]*\| ([^|]+) \|", text, re.M)
    assert row is not None
    edited = text[: row.start(1)] + "999" + text[row.end(1) :]
    assert perf_doc.render(edited, perf_doc.latest_json(text)) == text
