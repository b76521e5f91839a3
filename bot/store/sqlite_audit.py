"""The SQLite store's audit log (bot/store/sqlite.py mixes it in): append, small reads, and
the export's pages, keyed by (`at`, `seq`) so a page never re-reads the one before."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from bot.audit_log import AuditEntry
from bot.store.base import AUDIT_PAGE
from bot.store.sqlite_sql import READ_AUDIT, READ_AUDIT_OF_APPROVAL, iso

T = TypeVar("T")

# Every stored time sorts after "", so "" means "from the start".
AUDIT_PAGE_AFTER = (
    "SELECT seq, at, record FROM audit WHERE at >= ? AND (at, seq) > (?, ?)"
    " ORDER BY at, seq LIMIT ?"
)


class SqliteAudit:
    """The audit log part of `SqliteStore` (whose worker thread runs every statement)."""

    if TYPE_CHECKING:

        async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

    async def append_audit(self, entry: AuditEntry) -> None:
        sql = "INSERT INTO audit (at, approval_id, record) VALUES (?, ?, ?)"
        params = (iso(entry.at), entry.approval_id, entry.model_dump_json())
        await self._write(lambda c: c.execute(sql, params))

    async def read_audit(
        self,
        *,
        approval_id: str | None = None,
        since: datetime | None = None,
        limit: int = 10_000,
    ) -> list[AuditEntry]:
        after = "" if since is None else iso(since)
        params: tuple[object, ...]
        if approval_id is None:
            sql, params = READ_AUDIT, (after, limit)
        else:
            sql, params = READ_AUDIT_OF_APPROVAL, (approval_id, after, limit)
        rows = await self._read(lambda c: c.execute(sql, params).fetchall())
        return [AuditEntry.model_validate_json(record) for (record,) in rows]

    async def iter_audit(
        self, *, since: datetime | None = None, page: int = AUDIT_PAGE
    ) -> AsyncIterator[AuditEntry]:
        page = max(page, 1)
        earliest = "" if since is None else iso(since)
        last: tuple[str, int] = ("", 0)
        while True:
            params = (earliest, *last, page)
            rows: list[tuple[int, str, str]] = await self._read(partial(_page, params))
            for _, _, record in rows:
                yield AuditEntry.model_validate_json(record)
            if len(rows) < page:
                return
            seq, at, _ = rows[-1]
            last = (at, seq)


def _page(params: tuple[object, ...], c: sqlite3.Connection) -> list[tuple[int, str, str]]:
    return c.execute(AUDIT_PAGE_AFTER, params).fetchall()
