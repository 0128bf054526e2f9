"""docs/SCALING.md quotes the code's constants and the committed benchmark report, not
numbers of its own: this fails when one changes."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from rtchat import app, workers
from rtchat.domain.typing_state import TypingTracker
from rtchat.engine import serve, websocket
from rtchat.fanout import redis as redis_fanout
from rtchat.service import relay
from rtchat.settings import Settings
from rtchat.storage import postgres_pool
from rtchat.storage.postgres_messages import RACE_ATTEMPTS
from rtchat.storage.postgres_pool import COMMAND_TIMEOUT, CONNECT_TIMEOUT, POOL_SIZE
from rtchat.storage.postgres_schema import LATEST_VERSION, MIGRATION_TIMEOUT
from rtchat.storage.postgres_writer import MAX_BATCH

ROOT = Path(__file__).parents[2]
RESULTS = ROOT / "benchmarks" / "results" / "store-throughput.md"


def _section() -> str:
    text = (ROOT / "docs" / "SCALING.md").read_text(encoding="utf-8")
    start = text.index("## PostgreSQL")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _phases(backend: str) -> dict[str, list[str]]:
    """The rows of one backend's table in the benchmark report, by phase name."""
    text = RESULTS.read_text(encoding="utf-8")
    table = text[text.index(f"## {backend}") :].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in table.splitlines() if line.startswith("| ")]
    return {cells[0].strip(): [c.strip() for c in cells[1:]] for cells in rows[1:]}


def test_the_constants_are_the_code_s() -> None:
    section = _section()
    for phrase in (
        f"at most {POOL_SIZE} connections",
        f"N x {POOL_SIZE} must stay below",
        f"up to {MAX_BATCH:,} requests",
        f"up to {RACE_ATTEMPTS} times",
        f"at most {MIGRATION_TIMEOUT:g} seconds per step",
        f"version {LATEST_VERSION} now",
        f"may take {CONNECT_TIMEOUT:g} seconds and a statement {COMMAND_TIMEOUT:g}",
    ):
        assert phrase in section, phrase


def test_the_figures_are_the_committed_report_s() -> None:
    sqlite, postgres = _phases("SqliteStorage"), _phases("PostgresStorage")
    # Columns: appends, seconds, appends/s, p50, p99, max, commits, per commit, CPU, server.
    burst = next(name for name in sqlite if name.endswith("at once"))
    paced = next(name for name in sqlite if name.startswith("paced") and "busy" not in name)
    expected = [
        f"| appends/s flat out ({burst}) | {sqlite[burst][2]} | {postgres[burst][2]} |",
        f"| {paced}: p50 / p99 latency, ms | {sqlite[paced][3]} / {sqlite[paced][4]}"
        f" | {postgres[paced][3]} / {postgres[paced][4]} |",
        f"| {paced}: our process's CPU per append, µs | {sqlite[paced][8]}"
        f" | {postgres[paced][8]} |",
        f"| {paced}: the database server's CPU per append, µs | - | {postgres[paced][9]} |",
        f"| flat out: CPU per append, ours + server's, µs | {sqlite[burst][8]}"
        f" | {postgres[burst][8]} + {postgres[burst][9]} |",
    ]
    section = _section()
    for row in expected:
        assert row in section, row


def test_every_figure_in_scaling_md_is_the_codes() -> None:
    text = " ".join((ROOT / "docs" / "SCALING.md").read_text(encoding="utf-8").split())
    defaults = Settings()
    assert app.SWEEP_SECONDS == 1.0
    quoted = [
        f"after {relay.GAP_WAIT * 1000:.0f} ms is read from the database",
        f"within {relay.GAP_WAIT * 1000:.0f} ms",
        f"(up to {redis_fanout.MAX_UNSENT // (1024 * 1024)} MiB)",
        f"(from {redis_fanout.RETRY_FIRST:g} s up to every {redis_fanout.RETRY_MAX:g} s)",
        f"a PING every {redis_fanout.PING_EVERY:g} s",
        f"(within the {postgres_pool.COMMAND_TIMEOUT:g} s command timeout)",
        f"(default {defaults.presence_ttl:g}, at least 3)",
        "every node sweeps every second",
        f"what it showed {TypingTracker().ttl:g} s after the last report",
        f"(default `{defaults.redis_prefix}`)",
    ]
    missing = [q for q in quoted if q not in text]
    assert missing == []


def _watching() -> str:
    text = (ROOT / "docs" / "SCALING.md").read_text(encoding="utf-8")
    start = text.index("## Watching a node")
    end = text.find("\n## ", start + 1)
    return " ".join(text[start : end if end != -1 else len(text)].split())


def test_the_watching_figures_are_the_code_s() -> None:
    section = _watching()
    quoted = [
        f"within {app.READY_TIMEOUT:g} s each",
        f"at most {serve.DRAIN_SHARE:.0%} of `RTCHAT_SHUTDOWN_TIMEOUT`",
        f"(default {Settings().shutdown_timeout:g} s)",
        f"waits that long and {workers.STOP_MARGIN:g} s more",
        "close code 1001",
    ]
    assert [q for q in quoted if q not in section] == []
    assert websocket.GOING_AWAY == 1001


async def test_every_metric_served_is_in_the_table_and_no_other() -> None:
    async with app.running_app(Settings(database_url="memory://", node_id="doc")) as running:
        served = running.asgi
        scope = {"type": "http", "method": "GET", "path": "/metrics", "headers": []}
        body = bytearray()

        async def receive() -> dict[str, object]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, object]) -> None:
            body.extend(message.get("body", b""))

        await served(scope, receive, send)
    names = set()
    for family in text_string_to_metric_families(body.decode()):
        if family.name.startswith("rtchat_"):
            names.add(family.name + ("_total" if family.type == "counter" else ""))
    documented = set(re.findall(r"`(rtchat_[a-z_]+)", _watching()))
    assert names == documented
