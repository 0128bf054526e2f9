"""Who may moderate whom, and for how long a restriction lasts. Pure: no store, no clock.

A room's owner (its creator) and the site moderators (`RTCHAT_MODERATORS`) outrank its
moderators, who outrank its members; site moderators outrank owners too. An action needs a
moderator at least, and an actor who outranks the target: so a moderator cannot act on
another moderator or the owner, and the owner can act on its moderators.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.timestamps import iso_timestamp

MAX_RESTRICTION_SECONDS = 366 * 24 * 3600
"""The longest timed ban or mute; without `seconds`, one lasts until it is lifted."""


class Role(StrEnum):
    """A user's standing in one room, as stored; a member has no stored role."""

    OWNER = "owner"
    MODERATOR = "moderator"
    MEMBER = "member"


class Restriction(StrEnum):
    BAN = "ban"
    MUTE = "mute"


class Action(StrEnum):
    ROLE = "role"
    KICK = "kick"
    BAN = "ban"
    UNBAN = "unban"
    MUTE = "mute"
    UNMUTE = "unmute"


class Rank(IntEnum):
    MEMBER = 0
    MODERATOR = 1
    OWNER = 2
    SITE = 3


def rank(role: Role | None, site_moderator: bool) -> Rank:
    if site_moderator:
        return Rank.SITE
    if role is Role.OWNER:
        return Rank.OWNER
    if role is Role.MODERATOR:
        return Rank.MODERATOR
    return Rank.MEMBER


def check_authority(actor: Rank, target: Rank) -> None:
    """Refuse an actor who is no moderator (`not_moderator`) or does not outrank the
    target (`outranked`)."""
    if actor < Rank.MODERATOR:
        raise ChatError(ErrorCode.NOT_MODERATOR)
    if actor <= target:
        raise ChatError(ErrorCode.OUTRANKED)


def check_owner(actor: Rank) -> None:
    """Only the owner (or a site moderator) makes and unmakes moderators."""
    if actor < Rank.OWNER:
        raise ChatError(ErrorCode.NOT_OWNER)


def clean_role(value: object) -> Role:
    if value not in (Role.MODERATOR.value, Role.MEMBER.value):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "`role` must be 'moderator' or 'member'.")
    return Role(str(value))


def clean_seconds(value: object, *, required: bool) -> float | None:
    """A restriction's length: a number of seconds up to `MAX_RESTRICTION_SECONDS`, or
    None (until lifted) where that is allowed."""
    if value is None and not required:
        return None
    if (
        not isinstance(value, int | float)
        or isinstance(value, bool)
        or not math.isfinite(value)
        or not 0 < value <= MAX_RESTRICTION_SECONDS
    ):
        raise ChatError(
            ErrorCode.INVALID_PAYLOAD,
            f"`seconds` must be a number above 0 and up to {MAX_RESTRICTION_SECONDS}.",
        )
    return float(value)


def restricted(kind: Restriction, room: str, until: datetime | None) -> ChatError:
    """The refusal of a banned user's join (`banned`) or a muted one's post (`muted`),
    saying until when."""
    ends_at = None if until is None else iso_timestamp(until)
    when = "until a moderator lifts it" if ends_at is None else f"until {ends_at}"
    if kind is Restriction.BAN:
        return ChatError(ErrorCode.BANNED, f"You are banned from {room!r} {when}.", until=ends_at)
    return ChatError(ErrorCode.MUTED, f"You are muted in {room!r} {when}.", until=ends_at)


def ends(now: datetime, seconds: float | None) -> datetime | None:
    return None if seconds is None else now + timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Until:
    """When a stored restriction ends; `None`: when it is lifted."""

    until: datetime | None

    def active(self, now: datetime) -> bool:
        return self.until is None or self.until > now
