"""Numbers past what storage holds are refused as bad input, not failed on (SQLite)."""

from __future__ import annotations

import pytest

from tests.support import Connect, error_code, ok


@pytest.mark.parametrize("seq", [2**63, 2**64 - 1])
async def test_history_and_sync_past_64_bits_are_invalid_payload(
    clients: Connect, seq: int
) -> None:
    alice = await clients()
    await alice.join("alice")
    ok(await alice.call("send-message", "hello"))
    history = await alice.call("history", {"room": "general", "before": seq})
    assert error_code(history) == "invalid_payload"
    sync = await alice.call("sync", {"rooms": {"general": seq}})
    assert error_code(sync) == "invalid_payload"
    largest = ok(await alice.call("history", {"room": "general", "before": 2**63 - 1}))
    assert [m["message"] for m in largest["messages"]] == ["hello"]
