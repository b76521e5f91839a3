"""The embedded store: one SQLite file, one process, zero setup.

`sqlite3` blocks, so every call runs on one dedicated worker thread that owns
the store's only connection; the event loop never waits on the disk. Writes run
in `BEGIN IMMEDIATE` transactions, which take SQLite's write lock up front: a
compare-and-set or a claim is all-or-nothing even when a second process opens
the same file, and a lock held elsewhere makes us wait `busy_timeout` and then
fail with StoreUnavailable instead of failing half-way.

Times the caller decides about (due checks, the outbox, audit) are stored as
fixed-width ISO-8601 UTC text, so text order is time order. Leases and
once-keys expire in real time (`time.time()`), whatever clock the bot follows:
they guard processes, and processes live in real time.

The `next_check_at` column is the due index and the `version` column counts
writes; both are authoritative over the copies inside the JSON record.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.opentrain.models import ApprovalType
from bot.outbox import Effect, EffectKind
from bot.store.base import StoreUnavailable, tally
from bot.store.kinds import RecordsOverText
from bot.store.records import ParsedApprovals
from bot.store.sqlite_audit import SqliteAudit
from bot.store.sqlite_index import SqliteIndex
from bot.store.sqlite_prune import SqlitePrune
from bot.store.sqlite_sql import (
    COUNT_PENDING_BY_TYPE,
    COUNT_UNDONE_BY_KIND,
    LIST_APPROVALS,
    LIST_APPROVALS_BY_STATUS,
    ApprovalRow,
    add_approval,
    check_same_approval,
    connect,
    effect,
    enqueue,
    explain,
    in_transaction,
    iso,
    positive_seconds,
    save_effect,
    stored_effect,
    transition,
    update_approval,
)
from bot.tracked_approvals import TrackedApproval, TrackedStatus

T = TypeVar("T")

DEFAULT_BUSY_TIMEOUT = timedelta(seconds=5)


class SqliteStore(RecordsOverText, SqliteAudit, SqlitePrune, SqliteIndex):
    """The `Store` on one SQLite file (or `:memory:`); see the module docstring."""

    def __init__(
        self,
        location: str,
        connection: sqlite3.Connection,
        worker: ThreadPoolExecutor,
        busy_timeout: timedelta,
    ) -> None:
        """Use `SqliteStore.open`: the connection must belong to `worker`'s thread."""
        self._location = location
        self._connection = connection
        self._worker = worker
        self._busy_timeout = busy_timeout
        self._closed = False
        self._parsed = ParsedApprovals()  # used on the worker thread only

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, busy_timeout: timedelta = DEFAULT_BUSY_TIMEOUT
    ) -> SqliteStore:
        """Open (creating if needed) the database at `path`, or `:memory:`."""
        name = os.fspath(path)
        worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        try:
            connection, location = await asyncio.get_running_loop().run_in_executor(
                worker, connect, name, busy_timeout
            )
        except sqlite3.Error as exc:
            worker.shutdown(wait=False)
            raise StoreUnavailable(explain(exc, name, busy_timeout)) from exc
        except BaseException:
            worker.shutdown(wait=False)
            raise
        return cls(location, connection, worker, busy_timeout)

    # --- plumbing -------------------------------------------------------------------
    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreUnavailable(f"the SQLite store at {self._location} is closed")
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self._worker, work, self._connection
            )
        except sqlite3.Error as exc:
            raise StoreUnavailable(explain(exc, self._location, self._busy_timeout)) from exc

    async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        return await self._read(lambda connection: in_transaction(connection, work))

    def _approval(self, row: ApprovalRow) -> TrackedApproval:
        """A row as a record (on the worker thread, which owns the parsed records)."""
        approval_id, record, version, next_check_at = row
        due = None if next_check_at is None else datetime.fromisoformat(next_check_at)
        return self._parsed.parse(approval_id, record, version, due)

    # --- tracked approvals ------------------------------------------------------------
    async def add_approval(self, approval: TrackedApproval, effects: Sequence[Effect] = ()) -> bool:
        def work(c: sqlite3.Connection) -> bool:
            added = add_approval(c, approval)
            if added:
                enqueue(c, effects)
            return added

        return await self._write(work)

    async def get_approval(self, approval_id: str) -> TrackedApproval | None:
        def work(c: sqlite3.Connection) -> TrackedApproval | None:
            row = c.execute(
                "SELECT approval_id, record, version, next_check_at FROM approvals"
                " WHERE approval_id = ?",
                (approval_id,),
            ).fetchone()
            return None if row is None else self._approval(row)

        return await self._read(work)

    async def update_approval(self, approval: TrackedApproval) -> TrackedApproval | None:
        return await self._write(lambda c: update_approval(c, approval))

    async def transition(
        self,
        approval_id: str,
        expected: TrackedStatus,
        updated: TrackedApproval,
        effects: Sequence[Effect] = (),
    ) -> bool:
        check_same_approval(approval_id, updated)
        return await self._write(lambda c: transition(c, expected, updated, effects))

    async def list_approvals(
        self,
        *,
        status: TrackedStatus | None = None,
        limit: int = 1000,
        since: datetime | None = None,
    ) -> list[TrackedApproval]:
        params: tuple[object, ...]
        earliest = iso(since) if since is not None else ""
        if status is None:
            sql, params = LIST_APPROVALS, (earliest, limit)
        else:
            sql, params = LIST_APPROVALS_BY_STATUS, (status.value, earliest, limit)
        # Parsed row by row on the worker thread: a long listing neither holds every
        # raw row at once nor blocks the event loop for the whole parse.
        return await self._read(lambda c: [self._approval(row) for row in c.execute(sql, params)])

    async def count_approvals(self, *, status: TrackedStatus | None = None) -> int:
        params: tuple[object, ...]
        if status is None:
            sql, params = "SELECT count(*) FROM approvals", ()
        else:
            sql, params = "SELECT count(*) FROM approvals WHERE status = ?", (status.value,)
        return int(await self._read(lambda c: c.execute(sql, params).fetchone()[0]))

    async def count_pending_by_type(self) -> dict[ApprovalType, int]:
        rows = await self._read(lambda c: c.execute(COUNT_PENDING_BY_TYPE).fetchall())
        return tally(rows, ApprovalType)

    async def approvals_for_proposal(self, proposal_id: str) -> list[TrackedApproval]:
        sql = (
            "SELECT approval_id, record, version, next_check_at FROM approvals"
            " WHERE proposal_id = ?"
            " ORDER BY adopted_at DESC, approval_id DESC"
        )
        return await self._read(
            lambda c: [self._approval(row) for row in c.execute(sql, (proposal_id,))]
        )

    # --- due index --------------------------------------------------------------------
    async def claim_due(
        self, now: datetime, owner: str, *, limit: int, lease: timedelta
    ) -> list[TrackedApproval]:
        due, until = iso(now), iso(now + lease)

        def work(c: sqlite3.Connection) -> list[TrackedApproval]:
            rows: list[ApprovalRow] = c.execute(
                "SELECT approval_id, record, version, ? FROM approvals"
                " WHERE status = 'pending' AND next_check_at <= ?"
                " ORDER BY next_check_at, approval_id LIMIT ?",
                (until, due, limit),
            ).fetchall()
            claimed = [self._approval(row) for row in rows]
            c.executemany(
                "UPDATE approvals SET next_check_at = ? WHERE approval_id = ?",
                [(until, a.approval_id) for a in claimed],
            )
            return claimed

        return await self._write(work)

    async def reschedule(self, approval_id: str, at: datetime) -> None:
        sql = "UPDATE approvals SET next_check_at = ? WHERE approval_id = ? AND status = 'pending'"
        params = (iso(at), approval_id)
        await self._write(lambda c: c.execute(sql, params))

    async def next_due_at(self) -> datetime | None:
        sql = "SELECT min(next_check_at) FROM approvals WHERE status = 'pending'"
        value = await self._read(lambda c: c.execute(sql).fetchone()[0])
        return None if value is None else datetime.fromisoformat(value)

    # --- /updates cursor ----------------------------------------------------------------
    async def get_cursor(self) -> str | None:
        row = await self._read(lambda c: c.execute("SELECT value FROM feed_cursor").fetchone())
        return None if row is None else str(row[0])

    async def set_cursor(self, cursor: str) -> None:
        sql = (
            "INSERT INTO feed_cursor (id, value) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET value = excluded.value"
        )
        await self._write(lambda c: c.execute(sql, (cursor,)))

    # --- leases (real time) ---------------------------------------------------------------
    async def acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        ttl_seconds = positive_seconds(ttl)

        def work(c: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = c.execute(
                "INSERT INTO leases (name, owner, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (name) DO UPDATE SET owner = excluded.owner,"
                " expires_at = excluded.expires_at"
                " WHERE leases.owner = excluded.owner OR leases.expires_at <= ?",
                (name, owner, now + ttl_seconds, now),
            )
            return cursor.rowcount == 1

        return await self._write(work)

    async def release_lease(self, name: str, owner: str) -> bool:
        def work(c: sqlite3.Connection) -> bool:
            cursor = c.execute(
                "DELETE FROM leases WHERE name = ? AND owner = ? AND expires_at > ?",
                (name, owner, time.time()),
            )
            return cursor.rowcount == 1

        return await self._write(work)

    async def lease_holder(self, name: str) -> str | None:
        def work(c: sqlite3.Connection) -> str | None:
            row = c.execute(
                "SELECT owner FROM leases WHERE name = ? AND expires_at > ?", (name, time.time())
            ).fetchone()
            return None if row is None else str(row[0])

        return await self._read(work)

    # --- once-keys (real time) ------------------------------------------------------------
    async def claim_key(self, key: str, ttl: timedelta) -> bool:
        ttl_seconds = positive_seconds(ttl)

        def work(c: sqlite3.Connection) -> bool:
            now = time.time()
            # Expired keys are dropped here so the table stays as small as the live set.
            c.execute("DELETE FROM once_keys WHERE expires_at <= ?", (now,))
            cursor = c.execute(
                "INSERT OR IGNORE INTO once_keys (key, expires_at) VALUES (?, ?)",
                (key, now + ttl_seconds),
            )
            return cursor.rowcount == 1

        return await self._write(work)

    # --- outbox -------------------------------------------------------------------------
    async def enqueue_effects(self, effects: Sequence[Effect]) -> int:
        return await self._write(lambda c: enqueue(c, effects))

    async def claim_effects(
        self, now: datetime, owner: str, *, limit: int, lease: timedelta
    ) -> list[Effect]:
        due, until = iso(now), iso(now + lease)

        def work(c: sqlite3.Connection) -> list[Effect]:
            rows = c.execute(
                "SELECT record FROM effects WHERE done = 0 AND due_at <= ?"
                " ORDER BY due_at, effect_id LIMIT ?",
                (due, limit),
            ).fetchall()
            claimed = [effect(record, until) for (record,) in rows]
            c.executemany(
                "UPDATE effects SET due_at = ? WHERE effect_id = ?",
                [(until, e.id) for e in claimed],
            )
            return claimed

        return await self._write(work)

    async def complete_effect(self, effect_id: str, result: dict[str, Any] | None) -> None:
        def work(c: sqlite3.Connection) -> None:
            current = stored_effect(c, effect_id)
            if current is not None:
                save_effect(c, current.model_copy(update={"done": True, "result": result}))

        await self._write(work)

    async def retry_effect(
        self, effect_id: str, at: datetime, error: str, *, count_attempt: bool = True
    ) -> None:
        def work(c: sqlite3.Connection) -> None:
            current = stored_effect(c, effect_id)
            # A late retry must not revive an effect another worker already completed.
            if current is not None and not current.done:
                attempts = current.attempts + 1 if count_attempt else current.attempts
                changes = {"attempts": attempts, "last_error": error, "due_at": at}
                save_effect(c, current.model_copy(update=changes))

        await self._write(work)

    async def mark_started(self, effect_id: str, at: datetime) -> None:
        def work(c: sqlite3.Connection) -> None:
            current = stored_effect(c, effect_id)
            if current is not None and not current.done:
                save_effect(c, current.model_copy(update={"started_at": at}))

        await self._write(work)

    async def get_effect(self, effect_id: str) -> Effect | None:
        return await self._read(lambda c: stored_effect(c, effect_id))

    async def count_effects(self, *, done: bool | None = None) -> int:
        params: tuple[object, ...]
        if done is None:
            sql, params = "SELECT count(*) FROM effects", ()
        else:
            sql, params = "SELECT count(*) FROM effects WHERE done = ?", (int(done),)
        return int(await self._read(lambda c: c.execute(sql, params).fetchone()[0]))

    async def count_undone_effects_by_kind(self) -> dict[EffectKind, int]:
        rows = await self._read(lambda c: c.execute(COUNT_UNDONE_BY_KIND).fetchall())
        return tally(rows, EffectKind)

    # --- routes ---------------------------------------------------------------------------
    async def set_route(self, key: str, channel_id: str) -> None:
        sql = (
            "INSERT INTO routes (key, channel_id) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET channel_id = excluded.channel_id"
        )
        await self._write(lambda c: c.execute(sql, (key, channel_id)))

    async def get_route(self, key: str) -> str | None:
        sql = "SELECT channel_id FROM routes WHERE key = ?"
        row = await self._read(lambda c: c.execute(sql, (key,)).fetchone())
        return None if row is None else str(row[0])

    async def delete_route(self, key: str) -> bool:
        sql = "DELETE FROM routes WHERE key = ?"
        return await self._write(lambda c: c.execute(sql, (key,)).rowcount == 1)

    async def list_routes(self) -> dict[str, str]:
        sql = "SELECT key, channel_id FROM routes ORDER BY key"
        rows = await self._read(lambda c: c.execute(sql).fetchall())
        return {str(key): str(channel) for key, channel in rows}

    # --- settings records (typed by bot/store/kinds.py) -----------------------------------
    async def _text_get(self, key: str) -> str | None:
        sql = "SELECT value FROM config WHERE key = ?"
        row = await self._read(lambda c: c.execute(sql, (key,)).fetchone())
        return None if row is None else str(row[0])

    async def _text_put(self, key: str, text: str) -> None:
        sql = (
            "INSERT INTO config (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        await self._write(lambda c: c.execute(sql, (key, text)))

    async def _text_list(self, prefix: str) -> dict[str, str]:
        sql = "SELECT key, value FROM config WHERE substr(key, 1, ?) = ? ORDER BY key"
        rows = await self._read(lambda c: c.execute(sql, (len(prefix), prefix)).fetchall())
        return {str(key): str(value) for key, value in rows}

    async def _text_delete(self, key: str) -> bool:
        sql = "DELETE FROM config WHERE key = ?"
        return await self._write(lambda c: c.execute(sql, (key,)).rowcount == 1)

    # --- lifecycle ------------------------------------------------------------------------
    async def ping(self) -> str:
        version = await self._read(lambda c: c.execute("SELECT sqlite_version()").fetchone()[0])
        return f"sqlite {version} at {self._location}"

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await asyncio.get_running_loop().run_in_executor(self._worker, self._connection.close)
        finally:
            self._worker.shutdown(wait=False)
