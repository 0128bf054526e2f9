"""`@name` tokens: which name keys a text may mention."""

from __future__ import annotations

from rtchat.domain.mentions import MAX_MENTIONS, mention_keys
from rtchat.domain.names import name_key


def test_a_text_without_at_mentions_nothing() -> None:
    assert mention_keys("hello there") == ()
    assert mention_keys("mail alice@example.com") == ()  # an @ inside a word is no mention


def test_tokens_give_their_name_keys_in_order_with_and_without_punctuation() -> None:
    assert mention_keys("@Bob, ask @alice! and @bob again") == (
        name_key("Bob,"),
        name_key("Bob"),
        name_key("alice!"),
        name_key("alice"),
    )
    assert mention_keys("(@carol)") == (name_key("carol)"), name_key("carol"))
    assert mention_keys("@ alone and @@") == ()


def test_at_most_max_mentions_keys_are_looked_up() -> None:
    text = " ".join(f"@user{i}" for i in range(MAX_MENTIONS * 2))
    assert len(mention_keys(text)) == MAX_MENTIONS
