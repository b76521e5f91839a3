"""The SQLite store's pending index (bot/store/pending_index.py): two small tables that
hold pending approvals only, written in the transaction that writes the approval.

  pending_index   one row per pending approval: channel ('' for none), Slack requester,
                  and one time per watch (NULL: off that watch)
  escalated_to    (recipient, approval) for each user, group or ADMINS told of it

Created (and filled from the pending approvals already stored) when a database
without them is opened, so a database from before the index needs no migration step.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, TypeVar

from bot.store.pending_index import (
    ADMINS,
    Concern,
    Watch,
    channel_key,
    recipients_of,
    requester_of,
)
from bot.tracked_approvals import TrackedApproval, TrackedStatus

T = TypeVar("T")

# Per watch, its column's statements: fixed text, never built from input. The index holds
# pending approvals only, and CROSS JOIN keeps SQLite reading it first: asked to filter
# approvals by status too, it scans every pending approval and sorts them (seconds at 100 000).
WATCHED = {
    Watch.REMINDERS: (
        "SELECT a.approval_id, a.record, a.version, a.next_check_at FROM pending_index AS i"
        " CROSS JOIN approvals AS a ON a.approval_id = i.approval_id"
        " WHERE i.watch_reminders <= ?"
        " ORDER BY i.watch_reminders, i.approval_id LIMIT ?"
    ),
    Watch.ESCALATIONS: (
        "SELECT a.approval_id, a.record, a.version, a.next_check_at FROM pending_index AS i"
        " CROSS JOIN approvals AS a ON a.approval_id = i.approval_id"
        " WHERE i.watch_escalations <= ?"
        " ORDER BY i.watch_escalations, i.approval_id LIMIT ?"
    ),
}
SET_WATCH = {
    Watch.REMINDERS: "UPDATE pending_index SET watch_reminders = ? WHERE approval_id = ?",
    Watch.ESCALATIONS: "UPDATE pending_index SET watch_escalations = ? WHERE approval_id = ?",
}
WATCH_ALL = {
    Watch.REMINDERS: "UPDATE pending_index SET watch_reminders = (SELECT adopted_at"
    " FROM approvals AS a WHERE a.approval_id = pending_index.approval_id)",
    Watch.ESCALATIONS: "UPDATE pending_index SET watch_escalations = (SELECT adopted_at"
    " FROM approvals AS a WHERE a.approval_id = pending_index.approval_id)",
}

INDEX_SCHEMA = (
    """CREATE TABLE pending_index (
        approval_id       TEXT PRIMARY KEY,
        channel_id        TEXT NOT NULL,
        requester         TEXT,
        watch_reminders   TEXT,
        watch_escalations TEXT
    )""",
    "CREATE INDEX pending_index_channel ON pending_index (channel_id)",
    "CREATE INDEX pending_index_requester ON pending_index (requester) WHERE requester IS NOT NULL",
    "CREATE INDEX pending_index_reminders ON pending_index (watch_reminders, approval_id)"
    " WHERE watch_reminders IS NOT NULL",
    "CREATE INDEX pending_index_escalations ON pending_index (watch_escalations, approval_id)"
    " WHERE watch_escalations IS NOT NULL",
    """CREATE TABLE escalated_to (
        recipient   TEXT NOT NULL,
        approval_id TEXT NOT NULL,
        PRIMARY KEY (recipient, approval_id)
    ) WITHOUT ROWID""",
    "CREATE INDEX escalated_to_approval ON escalated_to (approval_id)",
)

# Pending approvals stored before the index existed, from their JSON (a channel, a Slack
# requester and escalations are written only when set: exclude_defaults).
BACKFILL = (
    """INSERT INTO pending_index
        (approval_id, channel_id, requester, watch_reminders, watch_escalations)
    SELECT approval_id, coalesce(json_extract(record, '$.channel_id'), ''),
        CASE json_extract(record, '$.requester.kind')
            WHEN 'slack' THEN json_extract(record, '$.requester.id') END,
        adopted_at, adopted_at
    FROM approvals WHERE status = 'pending'""",
    """INSERT OR IGNORE INTO escalated_to (recipient, approval_id)
    SELECT coalesce(told.value, :admins), a.approval_id
    FROM approvals AS a, json_each(a.record, '$.escalations') AS level
    LEFT JOIN json_each(level.value, '$.to') AS told
    WHERE a.status = 'pending'""",
)


def ensure_index(c: sqlite3.Connection) -> None:
    """Create and fill the index tables if this database has none yet (in a transaction)."""
    found = c.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'pending_index'"
    ).fetchone()
    if found is not None:
        return
    for statement in INDEX_SCHEMA:
        c.execute(statement)
    for statement in BACKFILL:
        c.execute(statement, {"admins": ADMINS})


def index_approval(c: sqlite3.Connection, approval: TrackedApproval) -> None:
    """Bring the index in line with `approval` as just written (in the same transaction)."""
    approval_id = approval.approval_id
    if approval.status is not TrackedStatus.PENDING:
        c.execute("DELETE FROM pending_index WHERE approval_id = ?", (approval_id,))
        c.execute("DELETE FROM escalated_to WHERE approval_id = ?", (approval_id,))
        return
    adopted = _iso(approval.adopted_at)
    # A row already there keeps its watch times: only the tick that watches moves them.
    c.execute(
        "INSERT INTO pending_index"
        " (approval_id, channel_id, requester, watch_reminders, watch_escalations)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (approval_id) DO UPDATE SET"
        " channel_id = excluded.channel_id, requester = excluded.requester",
        (approval_id, channel_key(approval.channel_id), requester_of(approval), adopted, adopted),
    )
    c.execute("DELETE FROM escalated_to WHERE approval_id = ?", (approval_id,))
    c.executemany(
        "INSERT INTO escalated_to (recipient, approval_id) VALUES (?, ?)",
        [(recipient, approval_id) for recipient in recipients_of(approval)],
    )


# The parts of a concern, each one parameter (a JSON array where it is a list).
IN_CHANNELS = (
    "SELECT approval_id FROM pending_index WHERE channel_id IN (SELECT value FROM json_each(?))"
)
NOT_IN_CHANNELS = (
    "SELECT approval_id FROM pending_index WHERE channel_id NOT IN (SELECT value FROM json_each(?))"
)
BY_REQUESTER = "SELECT approval_id FROM pending_index WHERE requester = ?"
TO_RECIPIENTS = (
    "SELECT approval_id FROM escalated_to WHERE recipient IN (SELECT value FROM json_each(?))"
)


def concerning_query(concern: Concern) -> tuple[str, list[object]]:
    """The statement (and its parameters) listing the pending approvals of `concern`."""
    parts: list[str] = []
    params: list[object] = []
    if concern.channels:
        parts.append(IN_CHANNELS)
        params.append(json.dumps(sorted({channel_key(c) for c in concern.channels})))
    if concern.all_channels_but is not None:
        parts.append(NOT_IN_CHANNELS)
        params.append(json.dumps(sorted(concern.all_channels_but)))
    if concern.requester is not None:
        parts.append(BY_REQUESTER)
        params.append(concern.requester)
    if concern.recipients:
        parts.append(TO_RECIPIENTS)
        params.append(json.dumps(sorted(concern.recipients)))
    if not parts:
        return "", []
    return SELECT_CONCERNING.replace("<ids>", " UNION ".join(parts)), params


SELECT_CONCERNING = (
    "SELECT a.approval_id, a.record, a.version, a.next_check_at FROM (<ids>) AS m"
    " CROSS JOIN approvals AS a ON a.approval_id = m.approval_id"
    " ORDER BY a.adopted_at DESC, a.approval_id DESC"
)

ApprovalRow = tuple[str, str, int, str | None]


class SqliteIndex:
    """The pending-index operations of `SqliteStore` (on its worker thread and connection)."""

    if TYPE_CHECKING:

        async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

        async def _write(self, work: Callable[[sqlite3.Connection], T]) -> T: ...

        def _approval(self, row: ApprovalRow) -> TrackedApproval: ...

    async def pending_concerning(self, concern: Concern) -> list[TrackedApproval]:
        sql, params = concerning_query(concern)
        if not sql:
            return []
        return await self._read(lambda c: [self._approval(row) for row in c.execute(sql, params)])

    async def escalation_recipients(self) -> set[str]:
        sql = "SELECT DISTINCT recipient FROM escalated_to"
        rows = await self._read(lambda c: c.execute(sql).fetchall())
        return {str(recipient) for (recipient,) in rows}

    async def watched(self, watch: Watch, until: datetime, *, limit: int) -> list[TrackedApproval]:
        sql = WATCHED[watch]
        params = (_iso(until), limit)
        return await self._read(lambda c: [self._approval(row) for row in c.execute(sql, params)])

    async def set_watches(self, watch: Watch, times: Mapping[str, datetime | None]) -> None:
        if not times:
            return
        sql = SET_WATCH[watch]
        rows = [
            (None if at is None else _iso(at), approval_id) for approval_id, at in times.items()
        ]
        await self._write(lambda c: c.executemany(sql, rows))

    async def watch_all(self, watch: Watch) -> None:
        sql = WATCH_ALL[watch]
        await self._write(lambda c: c.execute(sql))


def _iso(at: datetime) -> str:
    """As bot/store/sqlite_sql.py's `iso` (fixed-width UTC text, so text order is time order)."""
    if at.tzinfo is None:
        raise ValueError("the store only takes timezone-aware datetimes")
    return at.astimezone(UTC).isoformat(timespec="microseconds")
