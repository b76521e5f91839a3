"""`python -m bot audit` streams the log: every entry once, oldest first, written page by page
while it reads — on SQLite and on Redis."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis

from bot.audit_cli import run_audit
from bot.audit_log import AuditEntry
from bot.config import Settings
from bot.store import open_store
from bot.store.base import AUDIT_PAGE
from bot.store.redis_audit import stream_ms
from bot.store.sqlite_sql import iso

ENTRIES = 2 * AUDIT_PAGE + 120  # pages, and some


class Export(io.StringIO):
    """The export's output; its first line makes `on_first_line` happen, before the export
    reads on (an export that read everything first would never see what that adds)."""

    def __init__(self, on_first_line: Callable[[], None]) -> None:
        super().__init__()
        self._on_first_line: Callable[[], None] | None = on_first_line

    def write(self, text: str) -> int:
        if self._on_first_line is not None:
            self._on_first_line, happen = None, self._on_first_line
            happen()
        return super().write(text)


@pytest.fixture(params=["sqlite", "redis"])
def backend(
    request: pytest.FixtureRequest, tmp_path: Path
) -> tuple[Settings, Callable[[AuditEntry], None]]:
    """Settings as `serve` reads them, and how another process appends an entry meanwhile."""
    if request.param == "sqlite":
        database = tmp_path / "cosign.db"

        def append_sqlite(entry: AuditEntry) -> None:
            with sqlite3.connect(database) as connection:
                connection.execute(
                    "INSERT INTO audit (at, approval_id, record) VALUES (?, ?, ?)",
                    (iso(entry.at), entry.approval_id, entry.model_dump_json()),
                )

        return Settings(database_url=f"sqlite:///{database}"), append_sqlite
    url = request.getfixturevalue("redis_url")

    def append_redis(entry: AuditEntry) -> None:
        with redis.Redis.from_url(url) as client:
            client.xadd(
                "cosign:audit", {"json": entry.model_dump_json()}, id=f"{stream_ms(entry.at)}-0"
            )

    return Settings(redis_url=url), append_redis


async def test_the_export_streams_every_entry_in_order(
    backend: tuple[Settings, Callable[[AuditEntry], None]],
) -> None:
    settings, append = backend
    now = datetime.now(UTC)
    start = now - timedelta(days=2)
    entries = [
        AuditEntry(
            at=start + timedelta(seconds=n),
            action="reminder" if n % 2 else "card_posted",
            actor="bot",
            approval_id=f"apr_{n % 40}",
            details={"n": n},
        )
        for n in range(ENTRIES)
    ]
    store = await open_store(settings)
    try:
        await store.append_audit(AuditEntry(at=now - timedelta(days=9), action="old", actor="bot"))
        for entry in entries:
            await store.append_audit(entry)
    finally:
        await store.close()
    late = AuditEntry(at=now + timedelta(minutes=1), action="late", actor="bot")

    out = Export(lambda: append(late))
    args = argparse.Namespace(since="7d", format="jsonl", approval=None)
    assert await run_audit(settings, args, out=out) == 0

    exported = [AuditEntry.model_validate_json(line) for line in out.getvalue().splitlines()]
    assert exported == [*entries, late]
    assert [json.loads(line)["details"].get("n") for line in out.getvalue().splitlines()][:3] == [
        0,
        1,
        2,
    ]

    # One approval's history, at once.
    out = Export(lambda: None)
    args = argparse.Namespace(since="7d", format="text", approval="apr_7")
    assert await run_audit(settings, args, out=out) == 0
    assert len(out.getvalue().splitlines()) == ENTRIES // 40
