"""Token bucket: `rate` tokens a second, at most `burst` held. Time is passed in: pure."""

from __future__ import annotations

from dataclasses import dataclass, field

# Shared, where `float("-inf")` in each bucket made a float per connection.
_NEVER = float("-inf")


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self.tokens = self.burst
        self.updated = _NEVER

    def take(self, now: float) -> bool:
        """Spend one token if there is one; a rate of 0 means unlimited."""
        if self.rate <= 0:
            return True
        if self.updated == _NEVER:
            self.updated = now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False
