"""open_store: the settings pick the backend."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from bot.config import Settings
from bot.store import RedisStore, SqliteStore, open_store
from bot.store.factory import sqlite_path


def settings(database_url: str = "sqlite:///cosign.db", redis_url: str | None = None) -> Settings:
    return Settings(database_url=database_url, redis_url=redis_url)


async def test_redis_url_wins_over_database_url(redis_url: str) -> None:
    store = await open_store(settings("sqlite:///ignored.db", redis_url))
    try:
        assert isinstance(store, RedisStore)
        assert (await store.ping()).startswith("redis ")
    finally:
        await store.close()


async def test_relative_sqlite_path_is_under_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await open_store(settings("sqlite:///cosign.db"))
    try:
        assert isinstance(store, SqliteStore)
        assert await store.ping() == f"sqlite {sqlite3.sqlite_version} at {tmp_path / 'cosign.db'}"
        assert (tmp_path / "cosign.db").exists()
    finally:
        await store.close()


async def test_absolute_sqlite_path(tmp_path: Path) -> None:
    path = tmp_path / "abs.db"
    store = await open_store(settings(f"sqlite:///{path}"))
    try:
        assert (await store.ping()).endswith(f" at {path}")
        assert path.exists()
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///cosign.db", "cosign.db"),
        ("sqlite:///data/cosign.db", "data/cosign.db"),
        ("sqlite:////var/lib/cosign.db", "/var/lib/cosign.db"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_path(url: str, path: str) -> None:
    assert sqlite_path(url) == path


async def test_memory_store() -> None:
    store = await open_store(settings("sqlite:///:memory:"))
    try:
        assert (await store.ping()).endswith(" at :memory:")
    finally:
        await store.close()


@pytest.mark.parametrize(
    "url",
    ["postgres://cosign:hunter2@db/cosign", "sqlite://cosign.db", "cosign.db", "sqlite:///"],
)
async def test_unknown_database_urls_are_refused_without_echoing_them(url: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as caught:
        await open_store(settings(url))
    assert "hunter2" not in str(caught.value)


async def test_unknown_redis_schemes_are_refused_without_echoing_the_url() -> None:
    with pytest.raises(ValueError, match="REDIS_URL") as caught:
        await open_store(settings(redis_url="http://user:hunter2@cache:6379"))
    assert "hunter2" not in str(caught.value)
    assert "http" in str(caught.value)
