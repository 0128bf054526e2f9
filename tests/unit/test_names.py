"""Which usernames are one name, and which are refused as lookalikes (domain/names.py)."""

from __future__ import annotations

import pytest

from rtchat.domain import rules
from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.domain.names import name_key


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("ａlice", "alice"),  # fullwidth a
        ("ａｌｉｃｅ", "alice"),  # all fullwidth
        ("ﬁona", "fiona"),  # the fi ligature
        ("agent⁰⁰⁷", "agent007"),  # superscripts
        ("Ⅻ", "XII"),  # a Roman numeral sign
    ],
)
def test_compatibility_forms_are_kept_as_the_plain_name(typed: str, shown: str) -> None:
    assert rules.clean_username(typed) == shown


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("alice", "ALICE"),
        ("alice", "ａｌｉｃｅ"),
        ("Straße", "STRASSE"),  # case folding, not lowering
        ("alice", "аӏісе"),  # all Cyrillic: а, palochka, і, с, е
        ("ANNA", "ΑΝΝΑ"),  # all Greek capitals
        ("poco", "росо"),  # all Cyrillic lower case
        ("BOX", "ВОХ"),  # Cyrillic capitals drawn like Latin ones
    ],
)
def test_names_drawn_alike_are_one_name(one: str, other: str) -> None:
    assert name_key(rules.clean_username(one)) == name_key(rules.clean_username(other))


@pytest.mark.parametrize(
    ("one", "other"),
    [("Иван", "Ivan"), ("Жанна", "Zhanna"), ("mama", "Мама"), ("nina", "Нина")],
)
def test_names_that_only_sound_or_partly_look_alike_stay_apart(one: str, other: str) -> None:
    assert name_key(one) != name_key(other)


@pytest.mark.parametrize(
    "name",
    [
        "аlice",  # Cyrillic а, Latin lice
        "alicе",  # Latin, Cyrillic е at the end
        "pаypal",
        "Ωmega",  # Greek and Latin
        "Иванi",  # Cyrillic and Latin
        "ΑΝΝΑ Иван",  # Greek and Cyrillic
        "abcعربي",  # Latin and Arabic
    ],
)
def test_mixed_script_names_are_refused(name: str) -> None:
    with pytest.raises(ChatError) as caught:
        rules.clean_username(name)
    assert caught.value.code is ErrorCode.INVALID_USERNAME
    assert "script" in caught.value.message


@pytest.mark.parametrize(
    "name",
    [
        "alice",
        "Иван",
        "ΑΝΝΑ",
        "عربي",
        "田中",
        "たなか田中",  # Hiragana and Han: Japanese
        "タナカ・たなか",  # Katakana, Hiragana and a middle dot
        "Tanaka田中",  # Latin with Han
        "김철수",
        "Kim김철수",  # Latin with Hangul
        "José-María 2",  # accents, punctuation and digits go with any script
        "Zoë",
        "e\u0301tienne",  # a combining accent, composed by NFKC
    ],
)
def test_one_script_names_are_accepted(name: str) -> None:
    assert rules.clean_username(name)


def test_the_length_limit_holds_after_normalization() -> None:
    # One ligature expands to three letters: 11 of them are 33, one too many.
    with pytest.raises(ChatError) as caught:
        rules.clean_username("ﬃ" * 11)
    assert caught.value.code is ErrorCode.INVALID_USERNAME
    assert rules.clean_username("ﬃ" * 10) == "ffi" * 10
