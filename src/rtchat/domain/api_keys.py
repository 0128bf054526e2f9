"""The HTTP API's keys: each names a bot, and a key is compared in constant time."""

from __future__ import annotations

import hashlib
import hmac


class ApiKeys:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        # Digests, so every comparison is between 32-byte strings whatever the key's length.
        self._keys = [(name, _digest(key)) for name, key in pairs]

    def __bool__(self) -> bool:
        return bool(self._keys)

    def bot(self, presented: str) -> str | None:
        """The bot whose key `presented` is, or None. Every key is compared, so how long
        this takes says nothing of which key came close."""
        digest = _digest(presented)
        found: str | None = None
        for name, key in self._keys:
            if hmac.compare_digest(digest, key):
                found = name
        return found


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()
