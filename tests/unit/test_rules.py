from __future__ import annotations

import pytest

from rtchat.domain import rules
from rtchat.domain.errors import ERROR_CODES, ChatError, ErrorCode


@pytest.mark.parametrize(
    ("raw", "clean"), [("alice", "alice"), ("  bob ", "bob"), ("é" * 32, "é" * 32)]
)
def test_usernames_are_trimmed(raw: str, clean: str) -> None:
    assert rules.clean_username(raw) == clean


@pytest.mark.parametrize("raw", [None, 5, ["a"], "", "   ", "x" * 33, "a\nb", "a\u200bb"])
def test_bad_usernames(raw: object) -> None:
    with pytest.raises(ChatError) as caught:
        rules.clean_username(raw)
    assert caught.value.code is ErrorCode.INVALID_USERNAME


def test_messages_are_trimmed_and_keep_inner_lines() -> None:
    assert rules.clean_message("  line one\nline two \n") == "line one\nline two"


@pytest.mark.parametrize("raw", [None, 1.5, {"text": "x"}, "", "\n\t", "m" * 4001])
def test_bad_messages(raw: object) -> None:
    with pytest.raises(ChatError) as caught:
        rules.clean_message(raw)
    assert caught.value.code is ErrorCode.INVALID_MESSAGE


@pytest.mark.parametrize("raw", [1, 0, "true", None])
def test_typing_takes_only_booleans(raw: object) -> None:
    with pytest.raises(ChatError):
        rules.clean_typing(raw)
    assert rules.clean_typing(True) is True


def test_every_code_is_documented_and_wire_shaped() -> None:
    assert set(ERROR_CODES) == set(ErrorCode)
    error = ChatError(ErrorCode.RATE_LIMITED)
    assert error.to_wire() == {
        "code": "rate_limited",
        "message": ERROR_CODES[ErrorCode.RATE_LIMITED],
    }


@pytest.mark.parametrize("raw", [-1, 2**63, 2**64 - 1, 10**30, True, 1.0, "1"])
def test_sequence_numbers_fit_in_storage(raw: object) -> None:
    with pytest.raises(ChatError) as caught:
        rules.clean_seq(raw, "before")
    assert caught.value.code is ErrorCode.INVALID_PAYLOAD


def test_the_largest_sequence_number_is_accepted() -> None:
    assert rules.clean_seq(rules.MAX_SEQ, "seq") == 2**63 - 1


@pytest.mark.parametrize(
    "emoji",
    [
        "👍",
        "❤️",  # a symbol with variation selector 16
        "❤",
        "👍🏽",  # a skin tone
        "👩‍👩‍👧‍👦",  # ZWJ sequence
        "🏳️‍🌈",
        "🇫🇷",  # a flag: two regional indicators
        "1️⃣",  # a keycap
        "🏴󠁧󠁢󠁳󠁣󠁴󠁿",  # a subdivision flag: tags
        "☕",
    ],
)
def test_one_emoji_is_a_reaction(emoji: str) -> None:
    assert rules.clean_emoji(emoji) == emoji


@pytest.mark.parametrize(
    "raw",
    [
        None,
        5,
        "",
        "a",
        "ok",
        "👍👍",
        "👍 ",
        "1",
        "🇫",
        "🇫🇷🇩🇪",
        "\u200d",
        "👍\u200d",
        "👍" * 17,
        "\u2139\ufe0fx",  # an emoji, then a letter
    ],
)
def test_anything_but_one_emoji_is_refused(raw: object) -> None:
    with pytest.raises(ChatError) as caught:
        rules.clean_emoji(raw)
    assert caught.value.code is ErrorCode.INVALID_EMOJI
