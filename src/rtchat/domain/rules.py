"""Validation rules for what users send. Each returns the cleaned value or raises ChatError."""

from __future__ import annotations

import re
import unicodedata

from rtchat.domain import names
from rtchat.domain.errors import ChatError, ErrorCode

MAX_USERNAME_LENGTH = 32
MAX_MESSAGE_LENGTH = 4000


def _has_control_chars(text: str) -> bool:
    # Category C* covers control, format and unassigned code points: none belong in a name.
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def _clean_text(value: object, code: ErrorCode, what: str, limit: int) -> str:
    """Trimmed `value`, which must be a non-empty string of at most `limit` characters."""
    if not isinstance(value, str):
        raise ChatError(code, f"{what} must be a string.")
    text = value.strip()
    if not text:
        raise ChatError(code, f"{what} must not be empty.")
    if len(text) > limit:
        raise ChatError(code, f"{what} must be at most {limit} characters.")
    return text


def clean_username(value: object) -> str:
    """The name as it is kept and shown (trimmed, NFKC); see `names` for what is refused."""
    if isinstance(value, str):
        value = names.display_form(value)
    name = _clean_text(value, ErrorCode.INVALID_USERNAME, "Username", MAX_USERNAME_LENGTH)
    if _has_control_chars(name):
        raise ChatError(ErrorCode.INVALID_USERNAME, "Username must not contain control characters.")
    if names.mixes_scripts(name):
        found = " and ".join(sorted(s.title() for s in names.scripts(name)))
        raise ChatError(
            ErrorCode.INVALID_USERNAME,
            f"Username mixes letters of {found}; use the letters of one script.",
        )
    return name


def clean_guest(value: object) -> bool | None:
    """`user-joined`'s `guest`: absent (None), or true or false."""
    if value is not None and not isinstance(value, bool):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "`guest` takes true or false.")
    return value


def clean_message(value: object) -> str:
    return _clean_text(value, ErrorCode.INVALID_MESSAGE, "Message", MAX_MESSAGE_LENGTH)


def clean_typing(value: object) -> bool:
    if not isinstance(value, bool):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "`typing` takes true or false.")
    return value


MAX_ROOM_NAME_LENGTH = 32
MAX_TOPIC_LENGTH = 200
MAX_CLIENT_ID_LENGTH = 64
_ROOM_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-_")


def clean_room_name(value: object) -> str:
    if not isinstance(value, str):
        raise ChatError(ErrorCode.INVALID_ROOM_NAME, "Room name must be a string.")
    name = value.strip().lower()
    if not 1 <= len(name) <= MAX_ROOM_NAME_LENGTH or not set(name) <= _ROOM_NAME_CHARS:
        raise ChatError(
            ErrorCode.INVALID_ROOM_NAME,
            f"Room names are 1-{MAX_ROOM_NAME_LENGTH} characters of a-z, 0-9, - and _.",
        )
    return name


def clean_room_ref(value: object) -> str:
    """A room named in a request: a public room's name or a direct-message room's id."""
    if isinstance(value, str) and value.startswith("dm:") and len(value) <= 80:
        return value
    return clean_room_name(value)


def clean_topic(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or len(value.strip()) > MAX_TOPIC_LENGTH:
        raise ChatError(
            ErrorCode.INVALID_PAYLOAD, f"Topic must be a string of at most {MAX_TOPIC_LENGTH}."
        )
    if _has_control_chars(value.strip()):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "Topic must not contain control characters.")
    return value.strip()


def clean_client_id(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_ID_LENGTH:
        raise ChatError(
            ErrorCode.INVALID_PAYLOAD,
            f"clientId must be a string of 1-{MAX_CLIENT_ID_LENGTH} characters.",
        )
    return value


# The largest sequence number: storage keeps them as signed 64-bit integers (SQLite's and
# PostgreSQL's bigint), and JSON numbers up to 2**64 - 1 arrive as Python ints.
MAX_SEQ = 2**63 - 1


def clean_seq(value: object, name: str) -> int:
    # bool is an int subclass; `true` is not a sequence number.
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_SEQ:
        raise ChatError(
            ErrorCode.INVALID_PAYLOAD, f"`{name}` must be a whole number from 0 to {MAX_SEQ}."
        )
    return value


def clean_limit(value: object, default: int, maximum: int) -> int:
    if value is None:
        return default
    limit = clean_seq(value, "limit")
    if not 1 <= limit <= maximum:
        raise ChatError(ErrorCode.INVALID_PAYLOAD, f"`limit` must be between 1 and {maximum}.")
    return limit


MAX_SEARCH_QUERY = 200
_SEARCH_WORD = re.compile(r"\w+")


def clean_search_query(value: object) -> list[str]:
    """The words of a search query (runs of letters, digits and _), in order: what every
    store matches, so punctuation can never be read as a query language's syntax."""
    query = _clean_text(value, ErrorCode.INVALID_PAYLOAD, "`query`", MAX_SEARCH_QUERY)
    words = _SEARCH_WORD.findall(query)
    if not words:
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "`query` must contain a word.")
    return words


MAX_EMOJI_LENGTH = 16
"""Code points one reaction may have (a family emoji with skin tones is about ten)."""
_ZWJ = "\u200d"
_VS16 = "\ufe0f"
_KEYCAP = "\u20e3"
_KEYCAP_BASES = frozenset("0123456789#*")


def _emoji_base(ch: str) -> bool:
    # The standard library has no Emoji property; every emoji base is a symbol (So), in
    # the emoji planes, or one of the few older symbols of category Sm/Sc.
    cp = ord(ch)
    return unicodedata.category(ch) == "So" or 0x1F000 <= cp <= 0x1FAFF or ch in "\u2194\u2195"


def _emoji_part(part: str) -> bool:
    """One element of a ZWJ sequence: a base with optional modifiers, a keycap or a flag."""
    if not part:
        return False
    if part[0] in _KEYCAP_BASES:
        return part in (part[0] + _VS16 + _KEYCAP, part[0] + _KEYCAP)
    if all(0x1F1E6 <= ord(ch) <= 0x1F1FF for ch in part):
        return len(part) == 2  # a flag: two regional indicator letters
    if not _emoji_base(part[0]) or 0x1F1E6 <= ord(part[0]) <= 0x1F1FF:
        return False
    for ch in part[1:]:
        cp = ord(ch)
        # Variation selector 16, skin tones, and the tags of subdivision flags.
        if not (ch == _VS16 or 0x1F3FB <= cp <= 0x1F3FF or 0xE0020 <= cp <= 0xE007F):
            return False
    return True


def clean_emoji(value: object) -> str:
    """One emoji as Unicode writes it (UTS #51 shapes: a symbol with modifiers, a keycap,
    a flag, or such joined by ZWJ), never text."""
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= MAX_EMOJI_LENGTH
        or not all(_emoji_part(part) for part in value.split(_ZWJ))
    ):
        raise ChatError(ErrorCode.INVALID_EMOJI)
    return value


def clean_message_id(value: object) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_ID_LENGTH:
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "`id` must be a message id (a string).")
    return value


def clean_reply_to(value: object) -> str | None:
    return None if value is None else clean_message_id(value)


def clean_flag(value: object, name: str, default: bool) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, f"`{name}` takes true or false.")
    return value
