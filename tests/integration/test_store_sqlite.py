"""SqliteStore beyond the shared contract: locking, schema, lifecycle."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.store import SqliteStore, StoreUnavailable


@pytest.fixture
def intruder(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    """Another process's connection to the same file (autocommit; tests open transactions)."""
    connection = sqlite3.connect(tmp_path / "cosign.db", isolation_level=None)
    yield connection
    connection.close()


async def test_a_lock_held_elsewhere_waits_then_raises_store_unavailable(
    tmp_path: Path, intruder: sqlite3.Connection
) -> None:
    store = await SqliteStore.open(tmp_path / "cosign.db", busy_timeout=timedelta(milliseconds=100))
    try:
        intruder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable, match="locked by another connection") as caught:
            await store.set_cursor("c1")
        assert str(tmp_path / "cosign.db") in str(caught.value)

        intruder.execute("ROLLBACK")
        await store.set_cursor("c1")
        assert await store.get_cursor() == "c1"
    finally:
        await store.close()


async def test_open_creates_the_schema_in_wal_mode(
    tmp_path: Path, intruder: sqlite3.Connection
) -> None:
    store = await SqliteStore.open(tmp_path / "cosign.db")
    await store.close()
    assert intruder.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert intruder.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
    indexes = {
        row[0] for row in intruder.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
    }
    assert {"approvals_due", "approvals_proposal", "effects_due", "audit_approval"} <= indexes


async def test_a_newer_schema_is_refused(tmp_path: Path, intruder: sqlite3.Connection) -> None:
    await (await SqliteStore.open(tmp_path / "cosign.db")).close()
    intruder.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StoreUnavailable, match="schema version 99"):
        await SqliteStore.open(tmp_path / "cosign.db")


async def test_an_unopenable_path_raises_store_unavailable(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no-such-dir"):
        await SqliteStore.open(tmp_path / "no-such-dir" / "cosign.db")


async def test_ping_names_version_and_absolute_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = await SqliteStore.open("relative.db")
    try:
        assert (
            await store.ping() == f"sqlite {sqlite3.sqlite_version} at {tmp_path / 'relative.db'}"
        )
    finally:
        await store.close()


async def test_memory_database() -> None:
    store = await SqliteStore.open(":memory:")
    try:
        await store.set_route("job:1", "C1")
        assert await store.list_routes() == {"job:1": "C1"}
        assert await store.ping() == f"sqlite {sqlite3.sqlite_version} at :memory:"
    finally:
        await store.close()


async def test_a_closed_store_raises_store_unavailable(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "cosign.db")
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreUnavailable, match="closed"):
        await store.get_cursor()


async def test_non_positive_ttls_are_refused(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "cosign.db")
    try:
        with pytest.raises(ValueError, match="positive"):
            await store.acquire_lease("feed", "one", timedelta(0))
        with pytest.raises(ValueError, match="positive"):
            await store.claim_key("k", timedelta(seconds=-1))
    finally:
        await store.close()
