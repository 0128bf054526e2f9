"""Who outranks whom, and what a restriction's length may be."""

from __future__ import annotations

import pytest

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.moderation import (
    MAX_RESTRICTION_SECONDS,
    Rank,
    Role,
    check_authority,
    check_owner,
    clean_role,
    clean_seconds,
    rank,
)


def test_ranks_follow_roles_and_site_moderators_outrank_owners() -> None:
    assert rank(Role.MEMBER, False) is Rank.MEMBER
    assert rank(Role.MODERATOR, False) is Rank.MODERATOR
    assert rank(Role.OWNER, False) is Rank.OWNER
    assert rank(Role.MEMBER, True) is rank(Role.OWNER, True) is Rank.SITE


@pytest.mark.parametrize(
    ("actor", "target", "code"),
    [
        (Rank.MEMBER, Rank.MEMBER, ErrorCode.NOT_MODERATOR),
        (Rank.MODERATOR, Rank.MODERATOR, ErrorCode.OUTRANKED),
        (Rank.MODERATOR, Rank.OWNER, ErrorCode.OUTRANKED),
        (Rank.OWNER, Rank.SITE, ErrorCode.OUTRANKED),
        (Rank.SITE, Rank.SITE, ErrorCode.OUTRANKED),
        (Rank.MODERATOR, Rank.MEMBER, None),
        (Rank.OWNER, Rank.MODERATOR, None),
        (Rank.SITE, Rank.OWNER, None),
    ],
)
def test_an_actor_must_moderate_and_outrank_the_target(
    actor: Rank, target: Rank, code: ErrorCode | None
) -> None:
    if code is None:
        check_authority(actor, target)
        return
    with pytest.raises(ChatError) as caught:
        check_authority(actor, target)
    assert caught.value.code is code


def test_only_owners_and_site_moderators_set_roles() -> None:
    check_owner(Rank.OWNER)
    check_owner(Rank.SITE)
    with pytest.raises(ChatError) as caught:
        check_owner(Rank.MODERATOR)
    assert caught.value.code is ErrorCode.NOT_OWNER
    assert clean_role("moderator") is Role.MODERATOR
    assert clean_role("member") is Role.MEMBER
    for bad in ("owner", None, 1, "Moderator"):
        with pytest.raises(ChatError):
            clean_role(bad)


def test_a_restriction_lasts_a_positive_bounded_number_of_seconds() -> None:
    assert clean_seconds(None, required=False) is None
    assert clean_seconds(1, required=False) == 1.0
    assert clean_seconds(0.25, required=True) == 0.25
    assert clean_seconds(MAX_RESTRICTION_SECONDS, required=True) == MAX_RESTRICTION_SECONDS
    for bad in (None, 0, -1, True, "5", float("nan"), float("inf"), MAX_RESTRICTION_SECONDS + 1):
        with pytest.raises(ChatError) as caught:
            clean_seconds(bad, required=True)
        assert caught.value.code is ErrorCode.INVALID_PAYLOAD


def test_bans_and_mutes_carry_their_end_on_the_wire() -> None:
    assert ChatError(ErrorCode.MUTED, until="2026-01-01T00:00:00.000Z").to_wire()["until"] == (
        "2026-01-01T00:00:00.000Z"
    )
    assert ChatError(ErrorCode.BANNED).to_wire()["until"] is None
    assert "until" not in ChatError(ErrorCode.FORBIDDEN).to_wire()
