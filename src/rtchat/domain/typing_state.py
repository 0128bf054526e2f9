"""Who is typing where: throttles what is forwarded and expires what was never stopped. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field

Key = tuple[str, str]  # (user id, room)


@dataclass(slots=True)
class TypingTracker:
    """`refresh` is how often a repeated "still typing" is passed on; `ttl` how long a
    "typing" lasts without one. Clients send `true` every couple of seconds while keys
    are pressed, so a peer that vanished mid-word stops showing as typing after `ttl`."""

    refresh: float = 1.0
    ttl: float = 5.0
    _typing: dict[Key, tuple[float, float]] = field(default_factory=dict)  # key -> (sent, seen)

    def update(self, user_id: str, room: str, is_typing: bool, now: float) -> bool:
        """Record a typing report; `True` if it should be forwarded to the room."""
        key = (user_id, room)
        current = self._typing.get(key)
        if not is_typing:
            return self._typing.pop(key, None) is not None
        if current is not None and now - current[0] < self.refresh:
            self._typing[key] = (current[0], now)
            return False
        self._typing[key] = (now, now)
        return True

    def expired(self, now: float) -> list[Key]:
        """Forget and return every report older than `ttl`: each needs a "stopped" sent."""
        stale = [key for key, (_, seen) in self._typing.items() if now - seen >= self.ttl]
        for key in stale:
            del self._typing[key]
        return stale

    def stop_user(self, user_id: str, room: str | None = None) -> list[str]:
        """Forget `user_id`'s reports (in `room`, or everywhere); returns the rooms."""
        keys = [k for k in self._typing if k[0] == user_id and room in (None, k[1])]
        for key in keys:
            del self._typing[key]
        return [room for _, room in keys]

    def users(self) -> set[str]:
        """Every user with a report held."""
        return {user_id for user_id, _ in self._typing}
