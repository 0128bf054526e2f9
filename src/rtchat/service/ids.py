"""New ids, and the one-way form of session tokens the store keeps."""

from __future__ import annotations

import hashlib
import uuid


def new_id() -> str:
    """A random id of 32 hex digits: users and messages."""
    return uuid.uuid4().hex


def token_hash(token: str) -> str:
    """Only this is stored: a stolen database holds no usable token."""
    return hashlib.sha256(token.encode()).hexdigest()
