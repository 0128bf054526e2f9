"""Storage backends behind the `Storage` port, chosen by a database URL.

`open_storage` creates no rooms: the service creates `general` itself (guarded by
`rooms.get`), so every backend starts empty and behaves the same.
"""

from __future__ import annotations

from pathlib import Path

from rtchat.domain.errors import ChatError, ErrorCode
from rtchat.ports import Storage
from rtchat.storage.memory import MemoryStorage
from rtchat.storage.postgres import PostgresStorage
from rtchat.storage.postgres_pool import server_address
from rtchat.storage.sqlite import SqliteStorage

__all__ = ["MemoryStorage", "PostgresStorage", "SqliteStorage", "open_storage", "sqlite_path"]

ACCEPTED_URLS = (
    "memory://, sqlite:///relative/path.db (from the working folder), "
    "sqlite:////absolute/path.db or postgresql://user@host:port/database"
)

_SQLITE_PREFIX = "sqlite:///"
_POSTGRES_PREFIXES = ("postgresql://", "postgres://")


def sqlite_path(url: str) -> Path | None:
    """The file a `sqlite:///` URL names, or None if `url` is not one.

    Three slashes then a relative path, or four slashes for an absolute one, as
    SQLAlchemy reads them.
    """
    if not url.startswith(_SQLITE_PREFIX):
        return None
    rest = url[len(_SQLITE_PREFIX) :]
    if not rest or rest.endswith("/"):
        return None
    return Path(rest)


async def open_storage(url: str) -> Storage:
    """Open the backend `url` names, ready to use; the caller closes it.

    Raises:
        ValueError: `url` is not one of the accepted forms, its file cannot be used (not
            a database, from a newer rtchat, in a folder that cannot be made), or its
            PostgreSQL server cannot be reached or holds a newer schema. The message is
            one sentence, fit to stop start-up with.
    """
    if url == "memory://":
        return MemoryStorage()
    if url.startswith(_POSTGRES_PREFIXES):
        return await _open_postgres(url)
    path = sqlite_path(url)
    if path is None:
        raise ValueError(f"Unsupported database URL {url!r}: use {ACCEPTED_URLS}.")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return await SqliteStorage.open(path)
    except OSError as error:
        raise ValueError(f"Cannot open the database at {str(path)!r}: {error}.") from error
    except ChatError as error:
        # The driver's reason ("file is not a database") says more than our generic one.
        reason = error.__cause__ if error.__cause__ is not None else error.message.rstrip(".")
        raise ValueError(f"Cannot open the database at {str(path)!r}: {reason}.") from error


async def _open_postgres(url: str) -> Storage:
    try:
        where = server_address(url)
    except ValueError as error:
        raise ValueError(f"Unsupported database URL {url!r}: {error}.") from error
    try:
        return await PostgresStorage.open(url)
    except ChatError as error:
        if error.code is ErrorCode.UNAVAILABLE:
            raise ValueError(error.message) from error  # names the server and the reason
        # The server's own words ("relation users already exists") say more than ours.
        cause = error.__cause__
        reason = str(cause).rstrip(".") if cause is not None else error.message.rstrip(".")
        raise ValueError(f"Cannot open the PostgreSQL database at {where}: {reason}.") from error
