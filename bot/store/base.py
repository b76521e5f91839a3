"""The store protocol: everything the bot persists, and the atomic operations it needs.

Two implementations share one contract test suite (tests/integration/test_store_contract.py):
`SqliteStore` (embedded default, one process) and `RedisStore` (several replicas).
Records are pydantic models serialised as JSON — never pickles.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.approvals import AuditEntry, Effect, TrackedApproval, TrackedStatus


def approval_record(approval: TrackedApproval) -> str:
    """The JSON both stores keep for an approval: fields at their defaults are left out.

    Shorter on disk, and a pending record parses into a much smaller object: pydantic
    remembers which fields its input named, and a set of up to 18 names takes a third
    of the memory of one with 22 (10 000 pending approvals read at once: 29 MB, not 55).
    """
    return approval.model_dump_json(exclude_defaults=True)


class StoreUnavailable(Exception):
    """The store could not be reached or answered with an error; the operation did not happen."""


class Store(Protocol):
    # --- tracked approvals ------------------------------------------------------
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

    async def approvals_for_proposal(self, proposal_id: str) -> list[TrackedApproval]: ...

    # --- due index --------------------------------------------------------------
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

    # --- /updates cursor ----------------------------------------------------------
    async def get_cursor(self) -> str | None: ...

    async def set_cursor(self, cursor: str) -> None: ...

    # --- leases (leader election) ---------------------------------------------------
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

    # --- once-keys (webhook deliveries, throttles) ----------------------------------
    async def claim_key(self, key: str, ttl: timedelta) -> bool:
        """Set `key` if absent, expiring after `ttl`. True only for the caller that set it."""
        ...

    # --- outbox of Slack effects ------------------------------------------------------
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

    # --- routes and configuration (approvers, …) ---------------------------------------
    async def set_route(self, key: str, channel_id: str) -> None: ...

    async def get_route(self, key: str) -> str | None: ...

    async def delete_route(self, key: str) -> bool: ...

    async def list_routes(self) -> dict[str, str]: ...

    async def get_config(self, key: str) -> Any | None:
        """A JSON value stored under `key` (e.g. approvers per channel)."""
        ...

    async def set_config(self, key: str, value: Any) -> None: ...

    async def list_config(self, prefix: str) -> dict[str, Any]: ...

    async def delete_config(self, key: str) -> bool:
        """Forget `key`; False when there was nothing under it."""
        ...

    # --- audit log (append-only) -------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> None: ...

    async def read_audit(
        self,
        *,
        approval_id: str | None = None,
        since: datetime | None = None,
        limit: int = 10_000,
    ) -> list[AuditEntry]:
        """Oldest first by `at` (ties in append order); `since` is inclusive."""
        ...

    # --- lifecycle -------------------------------------------------------------------
    async def ping(self) -> str:
        """A short description of the backend ("sqlite 3.40 at /path", "redis 7.0.15")."""
        ...

    async def close(self) -> None: ...
