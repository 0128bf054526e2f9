"""`@name` tokens in a message's text, as name keys the store resolves to room members.

Pure and cheap: a text without `@` costs one `in` test, so posting pays nothing for a
feature it does not use, and the store looks names up only for texts that have some.
"""

from __future__ import annotations

import re

from rtchat.domain.names import name_key

MAX_MENTIONS = 20
"""Name keys one message looks up at most (a token may give two); later tokens mention
nobody."""

_TOKEN = re.compile(r"(?<!\w)@([^\s@]+)")
_TRAILING = ".,;:!?)]}'\"…"


def mention_keys(text: str) -> tuple[str, ...]:
    """The name keys `text` may mention, in order of first appearance.

    A token ending in punctuation ("@bob," "@bob!") names either the whole token or the
    token without it, since a name may end in a dot; both keys are asked for.
    """
    if "@" not in text:
        return ()
    keys: dict[str, None] = {}
    for match in _TOKEN.finditer(text):
        token = match.group(1)
        for candidate in (token, token.rstrip(_TRAILING)):
            if candidate:
                keys.setdefault(name_key(candidate), None)
        if len(keys) >= MAX_MENTIONS:
            break
    return tuple(keys)[:MAX_MENTIONS]
