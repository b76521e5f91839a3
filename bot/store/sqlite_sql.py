"""The SQLite store's SQL: its schema, its statements, and the functions that run them in the
store's worker thread (bot/store/sqlite.py hands each of them a connection)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from bot.outbox import Effect
from bot.store.base import StoreUnavailable, approval_record
from bot.store.sqlite_index import ensure_index, index_approval
from bot.tracked_approvals import TrackedApproval, TrackedStatus

T = TypeVar("T")

MEMORY = ":memory:"

SCHEMA_VERSION = 1

SCHEMA = (
    """CREATE TABLE approvals (
        approval_id   TEXT PRIMARY KEY,
        status        TEXT NOT NULL,
        version       INTEGER NOT NULL,
        proposal_id   TEXT,
        adopted_at    TEXT NOT NULL,
        next_check_at TEXT,
        record        TEXT NOT NULL
    )""",
    "CREATE INDEX approvals_due ON approvals (next_check_at) WHERE status = 'pending'",
    "CREATE INDEX approvals_status_adopted ON approvals (status, adopted_at)",
    "CREATE INDEX approvals_adopted ON approvals (adopted_at)",
    "CREATE INDEX approvals_proposal ON approvals (proposal_id) WHERE proposal_id IS NOT NULL",
    """CREATE TABLE effects (
        effect_id TEXT PRIMARY KEY,
        done      INTEGER NOT NULL,
        due_at    TEXT NOT NULL,
        record    TEXT NOT NULL
    )""",
    "CREATE INDEX effects_due ON effects (done, due_at)",
    "CREATE TABLE feed_cursor (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL)",
    "CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL)",
    "CREATE TABLE once_keys (key TEXT PRIMARY KEY, expires_at REAL NOT NULL)",
    "CREATE INDEX once_keys_expiry ON once_keys (expires_at)",
    "CREATE TABLE routes (key TEXT PRIMARY KEY, channel_id TEXT NOT NULL)",
    "CREATE TABLE config (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE audit (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        at          TEXT NOT NULL,
        approval_id TEXT,
        record      TEXT NOT NULL
    )""",
    "CREATE INDEX audit_approval ON audit (approval_id, at)",
    "CREATE INDEX audit_at ON audit (at)",
)

ApprovalRow = tuple[str, str, int, str | None]  # id, record, version, next_check_at

LIST_APPROVALS = (
    "SELECT approval_id, record, version, next_check_at FROM approvals WHERE adopted_at >= ?"
    " ORDER BY adopted_at DESC, approval_id DESC LIMIT ?"
)
LIST_APPROVALS_BY_STATUS = (
    "SELECT approval_id, record, version, next_check_at FROM approvals"
    " WHERE status = ? AND adopted_at >= ?"
    " ORDER BY adopted_at DESC, approval_id DESC LIMIT ?"
)
# By the name inside each record: the JSON holds the type and kind (neither has a default).
COUNT_PENDING_BY_TYPE = (
    "SELECT json_extract(record, '$.type'), count(*) FROM approvals"
    " WHERE status = 'pending' GROUP BY 1"
)
COUNT_UNDONE_BY_KIND = (
    "SELECT json_extract(record, '$.kind'), count(*) FROM effects WHERE done = 0 GROUP BY 1"
)
READ_AUDIT = "SELECT record FROM audit WHERE at >= ? ORDER BY at, seq LIMIT ?"
READ_AUDIT_OF_APPROVAL = (
    "SELECT record FROM audit WHERE approval_id = ? AND at >= ? ORDER BY at, seq LIMIT ?"
)


# --- in the worker thread ------------------------------------------------------------------


def connect(name: str, busy_timeout: timedelta) -> tuple[sqlite3.Connection, str]:
    """The worker thread's connection, and where it points (for messages and `ping`)."""
    location = name if name == MEMORY else os.path.abspath(name)
    # isolation_level=None: no implicit transactions; every write says BEGIN IMMEDIATE itself.
    connection = sqlite3.connect(
        location, timeout=busy_timeout.total_seconds(), isolation_level=None
    )
    try:
        connection.execute("PRAGMA journal_mode = WAL")
        in_transaction(connection, lambda c: ensure_schema(c, location))
        in_transaction(connection, ensure_index)
    except BaseException:
        connection.close()
        raise
    return connection, location


def ensure_schema(c: sqlite3.Connection, location: str) -> None:
    c.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    row = c.execute("SELECT max(version) FROM schema_version").fetchone()
    if row[0] is None:
        for statement in SCHEMA:
            c.execute(statement)
        c.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
    elif row[0] != SCHEMA_VERSION:
        raise StoreUnavailable(
            f"the SQLite database at {location} has schema version {row[0]};"
            f" this bot reads version {SCHEMA_VERSION}"
        )


def in_transaction(c: sqlite3.Connection, work: Callable[[sqlite3.Connection], T]) -> T:
    c.execute("BEGIN IMMEDIATE")
    try:
        result = work(c)
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            c.execute("ROLLBACK")
        raise
    return result


def add_approval(c: sqlite3.Connection, approval: TrackedApproval) -> bool:
    cursor = c.execute(
        "INSERT OR IGNORE INTO approvals"
        " (approval_id, status, version, proposal_id, adopted_at, next_check_at, record)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            approval.approval_id,
            approval.status.value,
            approval.version,
            approval.proposal_id,
            iso(approval.adopted_at),
            due_column(approval),
            approval_record(approval),
        ),
    )
    if cursor.rowcount != 1:
        return False
    index_approval(c, approval)
    return True


def update_approval(c: sqlite3.Connection, approval: TrackedApproval) -> TrackedApproval | None:
    row = c.execute(
        "SELECT next_check_at FROM approvals WHERE approval_id = ? AND version = ? AND status = ?",
        (approval.approval_id, approval.version, approval.status.value),
    ).fetchone()
    if row is None:
        return None
    # The due index keeps its own time: claims and reschedules are not undone here.
    stored = approval.model_copy(update={"version": approval.version + 1})
    if row[0] is not None:
        stored = stored.model_copy(update={"next_check_at": datetime.fromisoformat(row[0])})
    save_approval(c, stored)
    return stored


def transition(
    c: sqlite3.Connection,
    expected: TrackedStatus,
    updated: TrackedApproval,
    effects: Sequence[Effect],
) -> bool:
    row = c.execute(
        "SELECT version FROM approvals WHERE approval_id = ? AND status = ? AND version = ?",
        (updated.approval_id, expected.value, updated.version),
    ).fetchone()
    if row is None:
        return False
    save_approval(c, updated.model_copy(update={"version": row[0] + 1}))
    enqueue(c, effects)
    return True


def save_approval(c: sqlite3.Connection, approval: TrackedApproval) -> None:
    c.execute(
        "UPDATE approvals SET status = ?, version = ?, proposal_id = ?, adopted_at = ?,"
        " next_check_at = ?, record = ? WHERE approval_id = ?",
        (
            approval.status.value,
            approval.version,
            approval.proposal_id,
            iso(approval.adopted_at),
            due_column(approval),
            approval_record(approval),
            approval.approval_id,
        ),
    )
    index_approval(c, approval)


def enqueue(c: sqlite3.Connection, effects: Sequence[Effect]) -> int:
    new = 0
    for item in effects:
        cursor = c.execute(
            "INSERT OR IGNORE INTO effects (effect_id, done, due_at, record) VALUES (?, ?, ?, ?)",
            (item.id, int(item.done), iso(item.due_at), item.model_dump_json()),
        )
        new += cursor.rowcount
    return new


def stored_effect(c: sqlite3.Connection, effect_id: str) -> Effect | None:
    row = c.execute(
        "SELECT record, due_at FROM effects WHERE effect_id = ?", (effect_id,)
    ).fetchone()
    return None if row is None else effect(row[0], row[1])


def save_effect(c: sqlite3.Connection, item: Effect) -> None:
    c.execute(
        "UPDATE effects SET done = ?, due_at = ?, record = ? WHERE effect_id = ?",
        (int(item.done), iso(item.due_at), item.model_dump_json(), item.id),
    )


# --- conversions -------------------------------------------------------------------------


def effect(record: str, due_at: str) -> Effect:
    return Effect.model_validate_json(record).model_copy(
        update={"due_at": datetime.fromisoformat(due_at)}
    )


def due_column(approval: TrackedApproval) -> str | None:
    return iso(approval.next_check_at) if approval.status is TrackedStatus.PENDING else None


def iso(at: datetime) -> str:
    """Fixed-width UTC text (microseconds, +00:00) so that string order is time order."""
    if at.tzinfo is None:
        raise ValueError("the store only takes timezone-aware datetimes")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def positive_seconds(ttl: timedelta) -> float:
    if ttl <= timedelta(0):
        raise ValueError("a lease or key TTL must be positive")
    return ttl.total_seconds()


def check_same_approval(approval_id: str, updated: TrackedApproval) -> None:
    if updated.approval_id != approval_id:
        raise ValueError(f"transition of {approval_id} got a record of {updated.approval_id}")


def explain(exc: sqlite3.Error, location: str, busy_timeout: timedelta) -> str:
    if getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return (
            f"the SQLite database at {location} stayed locked by another connection for"
            f" {busy_timeout.total_seconds():g} s (is a second bot running on the same file?"
            " use REDIS_URL to run several)"
        )
    return f"the SQLite database at {location} failed: {exc}"
