"""Validation rules for what users send. Each returns the cleaned value or raises ChatError."""

from __future__ import annotations

import unicodedata

from rtchat.domain.errors import ChatError, ErrorCode

MAX_USERNAME_LENGTH = 32
MAX_MESSAGE_LENGTH = 4000


def _has_control_chars(text: str) -> bool:
    # Category C* covers control, format and unassigned code points: none belong in a name.
    return any(unicodedata.category(ch).startswith("C") for ch in text)


def clean_username(value: object) -> str:
    if not isinstance(value, str):
        raise ChatError(ErrorCode.INVALID_USERNAME, "Username must be a string.")
    name = value.strip()
    if not name:
        raise ChatError(ErrorCode.INVALID_USERNAME, "Username must not be empty.")
    if len(name) > MAX_USERNAME_LENGTH:
        raise ChatError(
            ErrorCode.INVALID_USERNAME,
            f"Username must be at most {MAX_USERNAME_LENGTH} characters.",
        )
    if _has_control_chars(name):
        raise ChatError(ErrorCode.INVALID_USERNAME, "Username must not contain control characters.")
    return name


def clean_message(value: object) -> str:
    if not isinstance(value, str):
        raise ChatError(ErrorCode.INVALID_MESSAGE, "Message must be a string.")
    text = value.strip()
    if not text:
        raise ChatError(ErrorCode.INVALID_MESSAGE, "Message must not be empty.")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise ChatError(
            ErrorCode.INVALID_MESSAGE,
            f"Message must be at most {MAX_MESSAGE_LENGTH} characters.",
        )
    return text


def clean_typing(value: object) -> bool:
    if not isinstance(value, bool):
        raise ChatError(ErrorCode.INVALID_PAYLOAD, "`typing` takes true or false.")
    return value
