"""open_storage: which URL opens which backend, and a clear refusal for the rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from rtchat.storage import MemoryStorage, SqliteStorage, open_storage


async def test_memory_url() -> None:
    storage = await open_storage("memory://")
    try:
        assert isinstance(storage, MemoryStorage)
    finally:
        await storage.close()


async def test_absolute_sqlite_url_creates_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "chat.db"
    storage = await open_storage(f"sqlite:///{path}")  # an absolute path adds the 4th slash
    try:
        assert isinstance(storage, SqliteStorage)
        assert storage.path == path
    finally:
        await storage.close()
    assert path.is_file()


async def test_relative_sqlite_url_is_from_the_working_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    storage = await open_storage("sqlite:///data/chat.db")
    await storage.close()
    assert (tmp_path / "data" / "chat.db").is_file()


@pytest.mark.parametrize(
    "url",
    [
        "",
        "memory",
        "sqlite://chat.db",
        "sqlite:///",
        "sqlite:///data/",
        "mysql://localhost/chat",
        "chat.db",
    ],
)
async def test_other_urls_are_refused_in_one_sentence(url: str) -> None:
    with pytest.raises(ValueError, match="Unsupported database URL") as caught:
        await open_storage(url)
    message = str(caught.value)
    assert repr(url) in message
    assert "memory://" in message
    assert "sqlite:////absolute/path.db" in message


async def test_a_file_that_is_not_a_database_stops_start_up_in_one_sentence(
    tmp_path: Path,
) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"not a database " * 200)
    with pytest.raises(ValueError, match="Cannot open the database at") as caught:
        await open_storage(f"sqlite:///{path}")
    assert "file is not a database" in str(caught.value)
    assert str(path) in str(caught.value)


async def test_a_folder_that_cannot_be_made_stops_start_up_in_one_sentence(
    tmp_path: Path,
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    with pytest.raises(ValueError, match="Cannot open the database at"):
        await open_storage(f"sqlite:///{blocker}/chat.db")
