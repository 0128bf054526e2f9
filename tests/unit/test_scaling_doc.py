"""docs/SCALING.md quotes the constants the code runs with; this fails when one changes."""

from __future__ import annotations

from pathlib import Path

from rtchat import app
from rtchat.domain.typing_state import TypingTracker
from rtchat.fanout import redis as redis_fanout
from rtchat.service import relay
from rtchat.settings import Settings
from rtchat.storage import postgres_pool

DOC = Path(__file__).parents[2] / "docs" / "SCALING.md"


def test_every_figure_in_scaling_md_is_the_codes() -> None:
    text = " ".join(DOC.read_text(encoding="utf-8").split())
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
