"""The store protocol: everything the bot persists, and the atomic operations it needs.

`Store` is made of parts with one job each — tracked approvals with their due
index, the outbox, coordination between processes, the audit log, routes and
typed settings records — so a service can say which part it uses. Two
implementations share one contract suite per part (tests/integration/store/):
`SqliteStore` (embedded default, one process) and `RedisStore` (several replicas).
Records are pydantic models serialised as JSON — never pickles.

What each part keeps: approvals that ended, their done effects, other done effects and
audit entries until `prune` removes them (RETENTION_DAYS after they ended, were done or
were written; pending approvals and effects not done yet are never pruned); once-keys and
leases expire by themselves; settings records by their kind's rule (bot/store/kinds.py,
applied by bot/store/retention.py, which also runs `prune`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol, TypeVar

from bot.audit_log import AuditEntry
from bot.opentrain.models import ApprovalType
from bot.outbox import Effect, EffectKind
from bot.store.kinds import Kind
from bot.store.pending_index import PendingIndex
from bot.tracked_approvals import TrackedApproval, TrackedStatus

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)

AUDIT_PAGE = 500  # audit entries read at a time by `iter_audit`


def approval_record(approval: TrackedApproval) -> str:
    """The JSON both stores keep for an approval: fields at their defaults are left out.

    Shorter on disk, and a pending record parses into a much smaller object: pydantic
    remembers which fields its input named, and a set of up to 18 names takes a third
    of the memory of one with 22 (10 000 pending approvals read at once: 29 MB, not 55).
    """
    return approval.model_dump_json(exclude_defaults=True)


def tally(counts: Iterable[tuple[object, int]], vocabulary: type[E]) -> dict[E, int]:
    """Counts by a stored name, keyed by `vocabulary`'s members: a name it does not know is
    left out (`ApprovalType` reads every such name as UNKNOWN, so those are summed there)."""
    tallied: dict[E, int] = {}
    for name, count in counts:
        try:
            member = vocabulary(str(name))
        except ValueError:
            continue
        tallied[member] = tallied.get(member, 0) + int(count)
    return tallied


class StoreUnavailable(Exception):
    """The store could not be reached or answered with an error; the operation did not happen."""


class ApprovalStore(Protocol):
    """Tracked approvals, and the due index that says when each is checked next."""

    async def add_approval(self, approval: TrackedApproval, effects: Sequence[Effect] = ()) -> bool:
        """Insert if no approval with this id exists (idempotent adopt). True if inserted.

        `effects` (its card) are enqueued in the same atomic write, only when inserted.
        """
        ...

    async def get_approval(self, approval_id: str) -> TrackedApproval | None: ...

    async def update_approval(self, approval: TrackedApproval) -> TrackedApproval | None:
        """Optimistic write of non-status fields (card ts, channel…).

        Succeeds only if the stored version equals `approval.version` and the stored
        status equals `approval.status`; returns the stored record (version + 1), or
        None when someone else changed it first (re-read and retry). `next_check_at`
        is left to the due index, so a stale copy cannot undo a claim or reschedule.
        """
        ...

    async def transition(
        self,
        approval_id: str,
        expected: TrackedStatus,
        updated: TrackedApproval,
        effects: Sequence[Effect] = (),
    ) -> bool:
        """Compare-and-set of the status, atomically with enqueuing `effects`.

        If the stored status is `expected` and the stored version is
        `updated.version` (the copy the caller changed is current), store
        `updated` (version = stored version + 1; removed from the due index when
        terminal, else due at its `next_check_at`) and enqueue `effects`; return
        True. Otherwise change nothing and return False: another process won, or
        the record changed meanwhile (re-read; retry if the status still fits).
        """
        ...

    async def list_approvals(
        self,
        *,
        status: TrackedStatus | None = None,
        limit: int = 1000,
        since: datetime | None = None,
    ) -> list[TrackedApproval]:
        """Newest adopted first; `since` keeps those adopted at or after it."""
        ...

    async def count_approvals(self, *, status: TrackedStatus | None = None) -> int: ...

    async def count_pending_by_type(self) -> dict[ApprovalType, int]:
        """Pending approvals per type (types with none left out); read when `/metrics` is."""
        ...

    async def approvals_for_proposal(self, proposal_id: str) -> list[TrackedApproval]: ...

    # the due index
    async def claim_due(
        self, now: datetime, owner: str, *, limit: int, lease: timedelta
    ) -> list[TrackedApproval]:
        """Pending approvals with next_check_at <= now, claimed by `owner` for `lease`.

        Claiming pushes each item's next check to now + lease, so no other process
        gets it until the lease lapses or `reschedule` sets the real next time.
        """
        ...

    async def reschedule(self, approval_id: str, at: datetime) -> None:
        """Set a pending approval's next check time (ends any claim on it)."""
        ...

    async def next_due_at(self) -> datetime | None: ...


class Coordination(Protocol):
    """What processes share to work as one: the feed cursor, leases and once-keys."""

    async def get_cursor(self) -> str | None: ...

    async def set_cursor(self, cursor: str) -> None: ...

    async def acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Take the lease if free or expired, or renew it if `owner` holds it.

        Lease and once-key TTLs run on real time (the backend's expiry), never on
        the injected clock: they guard processes, which live in real time.
        """
        ...

    async def release_lease(self, name: str, owner: str) -> bool:
        """Release only if `owner` holds it (token-checked)."""
        ...

    async def lease_holder(self, name: str) -> str | None: ...

    async def claim_key(self, key: str, ttl: timedelta) -> bool:
        """Set `key` if absent, expiring after `ttl`. True only for the caller that set it."""
        ...


class Outbox(Protocol):
    """Slack effects to deliver, each once: claimed with a lease, completed or retried."""

    async def enqueue_effects(self, effects: Sequence[Effect]) -> int:
        """Add effects whose id is not yet known (idempotent). Returns how many were new."""
        ...

    async def claim_effects(
        self, now: datetime, owner: str, *, limit: int, lease: timedelta
    ) -> list[Effect]:
        """Undone effects due by `now`, oldest due first, leased to `owner` for `lease`.

        Like `claim_due`, the lease pushes each effect's `due_at` to now + lease.
        """
        ...

    async def complete_effect(self, effect_id: str, result: dict[str, Any] | None) -> None: ...

    async def retry_effect(
        self, effect_id: str, at: datetime, error: str, *, count_attempt: bool = True
    ) -> None:
        """Remember the error and make the effect due again at `at`; count an attempt.

        `count_attempt=False` postpones without counting (waiting for another
        effect, or for a rate limit: neither is a failure of this one). No-op once
        the effect is done (a late retry must not revive it).
        """
        ...

    async def mark_started(self, effect_id: str, at: datetime) -> None:
        """Record `at` as the start of the attempt about to post (`Effect.started_at`).

        Leaves the effect's due time (its claim) as it is; no-op once it is done.
        """
        ...

    async def get_effect(self, effect_id: str) -> Effect | None: ...

    async def count_effects(self, *, done: bool | None = None) -> int: ...

    async def count_undone_effects_by_kind(self) -> dict[EffectKind, int]:
        """Effects not done yet per kind (kinds with none left out): the outbox's depth."""
        ...


class RouteTable(Protocol):
    """Where cards go: `job:<jobId>` or `type:<approval type>` → channel id."""

    async def set_route(self, key: str, channel_id: str) -> None: ...

    async def get_route(self, key: str) -> str | None: ...

    async def delete_route(self, key: str) -> bool: ...

    async def list_routes(self) -> dict[str, str]: ...


class Records(Protocol):
    """Typed settings records (approvers, snoozes, drafts, …): one `Kind` per record kind."""

    async def get_record(self, kind: Kind[T], key: str = "") -> T | None: ...

    async def put_record(self, kind: Kind[T], key: str, value: T) -> None: ...

    async def list_records(self, kind: Kind[T], within: str = "") -> dict[str, T]:
        """Every readable record of `kind` whose key starts with `within`, by key (an
        unreadable one is logged and left out)."""
        ...

    async def delete_record(self, kind: Kind[T], key: str = "") -> bool:
        """Forget a record; False when there was none."""
        ...


class AuditLog(Protocol):
    """Who did what, append-only."""

    async def append_audit(self, entry: AuditEntry) -> None: ...

    async def read_audit(
        self,
        *,
        approval_id: str | None = None,
        since: datetime | None = None,
        limit: int = 10_000,
    ) -> list[AuditEntry]:
        """Oldest first by `at` (ties in append order); `since` is inclusive.

        For small reads (one approval's history, a short window): at most `limit`
        entries are read. On Redis, without `approval_id`, those are the first `limit`
        entries appended at or after `since`, sorted.
        """
        ...

    def iter_audit(
        self, *, since: datetime | None = None, page: int = AUDIT_PAGE
    ) -> AsyncIterator[AuditEntry]:
        """Every entry at or after `since`, oldest first, read `page` entries at a time (the
        export): never the whole log in memory. SQLite orders by `at` (ties in append
        order); Redis by its stream, whose ids are the entries' times — an entry appended
        after a later one (a replica's clock behind) follows it.
        """
        ...


class Pruning(Protocol):
    """What the store forgets after RETENTION_DAYS (bot/store/pruning.py says exactly what)."""

    async def prune(self, before: datetime, *, dry_run: bool = False) -> dict[str, int]:
        """Remove approvals that ended before `before` with their done effects and the records
        that end with them, done effects of other subjects done before it, and audit entries
        written before it; pending approvals and effects not done are never removed.

        Works in batches (bot/store/pruning.py: PRUNE_BATCH), each its own short write, so a
        big store is never locked for long. Answers how many went per part (`approvals`,
        `effects`, `audit`, and each record kind that ends with its approval, by name);
        `dry_run` counts the same without removing anything.
        """
        ...


class Store(
    ApprovalStore,
    PendingIndex,
    Outbox,
    Coordination,
    RouteTable,
    Records,
    AuditLog,
    Pruning,
    Protocol,
):
    """Every part, on one backend."""

    async def ping(self) -> str:
        """A short description of the backend ("sqlite 3.40 at /path", "redis 7.0.15")."""
        ...

    async def close(self) -> None: ...
