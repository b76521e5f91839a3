"""Keeps every tracked approval in sync with OpenTrain, and applies each outcome exactly once.

Feed first: one leader (the feed lease, bot/feed_lease.py) polls `GET /updates` and, for each
`approval.confirmed` event (it fires for every terminal status) about a
tracked approval, reads `GET /approvals/{id}` and applies the transition.
Due checks: every pending approval is also read just after it expires (the
read that flips it to `expired`); when the feed is unavailable the due checks
turn into adaptive per-approval polling. Transitions are compare-and-set in the
store, and only the winner enqueues the Slack effects, so several replicas and
restarts never double an outcome.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.audit_log import AuditEntry
from bot.clock import Clock
from bot.feed_lease import FeedLease
from bot.logs import log_kv
from bot.opentrain import (
    Approval,
    ApprovalType,
    NotFound,
    OpenTrainClient,
    OpenTrainError,
    UpdateEvent,
)
from bot.opentrain.errors import Forbidden
from bot.opentrain.models import HireTerms
from bot.outbox import EffectKind, effect, outcome_effects
from bot.store import Store
from bot.store.kinds import FEED_HEALTH, FeedHealth
from bot.tracked_approvals import (
    ApprovalDetails,
    Requester,
    TrackedApproval,
    TrackedStatus,
    adopt,
    may_be_superseded,
    next_check_at,
    outcome_of,
    overdue,
    resolve,
    superseded,
)

log = logging.getLogger(__name__)

# OpenTrain may report a hire request replaced by newer terms as `declined`, `superseded`,
# `cancelled` or another word (opentrain-api.md §7.3 leaves it open). Such an end of a
# hire is held this long before it reaches the card, so a newer request for the same
# proposal that is being adopted right now can mark it superseded instead.
SUPERSEDE_GRACE = timedelta(seconds=3)
# An outcome event about an approval we did not (yet) track is remembered this
# long, so an adopt racing with the feed still learns the outcome at once.
UNTRACKED_EVENT_TTL = timedelta(hours=1)
FEED_ERRORS_BEFORE_FALLBACK = 3
FEED_PAGE = 200  # the most OpenTrain's /updates returns at once
# When the feed fails, pending approvals start polling within this window (spread out).
FALLBACK_SPREAD = timedelta(seconds=15)
# A failed read of one approval is retried after 1–2× this (jittered).
READ_RETRY = timedelta(seconds=30)
DUE_BATCH = 100
DUE_CONCURRENCY = 8
DUE_CLAIM_LEASE = timedelta(seconds=60)
TRANSITION_ATTEMPTS = 5


@dataclass(frozen=True)
class AdoptResult:
    approval: TrackedApproval
    created: bool  # False when the approval was already tracked (idempotent hand-over)


class Tracker:
    def __init__(
        self,
        *,
        store: Store,
        opentrain: OpenTrainClient,
        clock: Clock,
        owner: str,
        lease: FeedLease,
        on_effects: Callable[[], None],
        on_activity: Callable[[UpdateEvent], Awaitable[None]],
        on_outcome: Callable[[str], None] = lambda _: None,  # wakes waiters (outcome_waits.py)
        on_more_due: Callable[[], None] = lambda: None,  # runs the due checks again at once
    ) -> None:
        self._store = store
        self._opentrain = opentrain
        self._clock = clock
        self._owner = owner
        self.lease = lease  # who polls the feed; renewed on its own heartbeat (app.schedule)
        self._on_effects = on_effects  # wakes the notifier's outbox drain
        self._on_activity = on_activity
        self._on_outcome = on_outcome
        self._on_more_due = on_more_due
        self._read_failures = 0  # reads of one approval that failed (an outage slows due checks)
        self._feed_errors = 0
        # The last poll that read the feed to its end (or taking the lead), for /metrics.
        self.feed_read_at: datetime | None = None

    # --- adopting -------------------------------------------------------------
    async def adopt(
        self,
        approval: Approval,
        *,
        requester: Requester,
        channel_id: str | None,
        details: ApprovalDetails | None = None,
        terms: HireTerms | None = None,
    ) -> AdoptResult:
        """Start tracking `approval` (idempotent per id) and queue its card."""
        now = self._clock.now()
        existing = await self._store.get_approval(approval.id)
        if existing is not None:
            return AdoptResult(existing, created=False)
        tracked = adopt(
            approval,
            requester=requester,
            now=now,
            details=details,
            terms=terms,
            channel_id=channel_id,
        )
        if tracked.status is TrackedStatus.PENDING:
            healthy = await self.feed_healthy()
            tracked = tracked.evolve(
                next_check_at=next_check_at(tracked, now, feed_healthy=healthy)
            )
        effects = [effect(tracked.approval_id, EffectKind.POST_CARD, now)]
        if tracked.status.is_terminal:
            effects += outcome_effects(tracked, now)
        # The card is queued in the same write: a crash cannot leave an approval without one.
        if not await self._store.add_approval(tracked, effects):
            stored = await self._store.get_approval(approval.id)
            assert stored is not None
            return AdoptResult(stored, created=False)
        await self._audit(
            "adopted", tracked, requester_actor(requester), status=tracked.status.value
        )
        if tracked.status is TrackedStatus.PENDING and not await self._store.claim_key(
            f"untracked-outcome:{approval.id}", timedelta(seconds=1)
        ):
            # The feed reported an outcome for this id before we tracked it (a race
            # with a fast human or another replica): read it now, not at expiry.
            await self._store.reschedule(approval.id, now)
        if approval.type is ApprovalType.PROPOSAL_HIRE and approval.proposal_id:
            await self._supersede_older(tracked)
        self._on_effects()
        return AdoptResult(tracked, created=True)

    async def _supersede_older(self, newer: TrackedApproval) -> None:
        """OpenTrain keeps one live hire request per proposal; older cards must say so."""
        assert newer.proposal_id is not None
        now = self._clock.now()
        for older in await self._store.approvals_for_proposal(newer.proposal_id):
            if older.approval_id == newer.approval_id or older.status is not TrackedStatus.PENDING:
                continue
            if older.type is not ApprovalType.PROPOSAL_HIRE or older.adopted_at > newer.adopted_at:
                continue

            def supersede(current: TrackedApproval) -> TrackedApproval:
                return superseded(current, newer, now)

            replaced = await self._transition(older.approval_id, supersede, now)
            if replaced is not None:
                await self._audit("superseded", replaced, "bot", superseded_by=newer.approval_id)

    # --- the feed ---------------------------------------------------------------
    async def poll_feed(self) -> int:
        """One feed poll if this process is (or becomes) the leader; returns events applied.

        The lease's heartbeat keeps it; a poll takes it only if it is free. A
        leader that stops leading mid-poll (its renewals failed, or it stalled
        and a standby took over) stops before the next event, and the lease is
        renewed in the store before each cursor is saved, so a former leader never
        moves the cursor, which now belongs to the new leader.
        """
        if not (self.lease.leading or await self.lease.hold()):
            self._feed_errors = 0  # a follower has no feed news of its own
            self.feed_read_at = None
            return 0
        if self.feed_read_at is None:
            self.feed_read_at = self._clock.now()  # the feed's lag counts from taking the lead
        applied = 0
        cursor = await self._store.get_cursor()
        try:
            async for page in self._opentrain.iter_updates(cursor, limit=FEED_PAGE):
                for event in page.events:
                    if not self.lease.leading:
                        return applied
                    if event.type == "approval.confirmed":
                        approval_id = str(event.data.get("approvalId") or event.resource_id or "")
                        if approval_id and await self._on_outcome_event(approval_id):
                            applied += 1
                    else:
                        await self._on_activity(event)  # a job's news (bot/job_activity.py)
                if not await self.lease.hold():
                    return applied
                # Saved only after the page is applied: a crash replays it, and
                # replays are harmless because transitions are compare-and-set.
                if page.next_cursor and page.next_cursor != cursor:
                    cursor = page.next_cursor
                    await self._store.set_cursor(cursor)
        except Forbidden as exc:
            await self._feed_failed(f"no access to /updates ({exc.code})", immediate=True)
        except OpenTrainError as exc:
            await self._feed_failed(str(exc), immediate=False)
        else:
            await self._feed_succeeded()
        return applied

    @property
    def leading(self) -> bool:
        """Whether this process leads the feed now (/metrics)."""
        return self.lease.leading

    @property
    def last_feed_poll_failed(self) -> bool:
        """Whether this process's last feed poll failed (/healthz); False while it does not lead.

        Only the leader polls, so a follower has no news of its own: see `feed_healthy`.
        """
        return self.lease.leading and self._feed_errors > 0

    async def _on_outcome_event(self, approval_id: str) -> bool:
        tracked = await self._store.get_approval(approval_id)
        if tracked is None:
            await self._store.claim_key(f"untracked-outcome:{approval_id}", UNTRACKED_EVENT_TTL)
            return False
        if tracked.status.is_terminal:
            return False
        return await self.refresh(tracked)

    async def _feed_failed(self, reason: str, *, immediate: bool) -> None:
        self._feed_errors += 1
        # An outage fails every poll: say so when it starts, not every interval.
        level = logging.WARNING if self._feed_errors == 1 else logging.DEBUG
        log.log(level, "feed poll failed %s", log_kv(reason=reason, consecutive=self._feed_errors))
        if immediate or self._feed_errors >= FEED_ERRORS_BEFORE_FALLBACK:
            await self._set_feed_health(False)

    async def _feed_succeeded(self) -> None:
        self._feed_errors = 0
        self.feed_read_at = self._clock.now()
        await self._set_feed_health(True)

    async def _set_feed_health(self, healthy: bool) -> None:
        was = await self.feed_healthy()
        if was == healthy:
            return
        now = self._clock.now()
        await self._store.put_record(
            FEED_HEALTH, "", FeedHealth(healthy=healthy, at=now, by=self._owner)
        )
        if healthy:
            log.info("feed recovered: back to feed-first tracking")
        else:
            log.warning("feed unavailable: falling back to per-approval polling")
        await self._reschedule_all_pending(now, feed_healthy=healthy)

    async def feed_healthy(self) -> bool:
        """Shared across replicas: the leader records the feed's health in the store."""
        record = await self._store.get_record(FEED_HEALTH)
        return record is None or record.healthy

    async def _reschedule_all_pending(self, now: datetime, *, feed_healthy: bool) -> None:
        """Move every pending approval onto the schedule the feed's health calls for.

        Unhealthy: polling starts now, spread over the first interval so a large
        backlog does not arrive at OpenTrain in one burst. Healthy: back to the
        single read just after expiry, so idle cost drops at once.
        """
        for tracked in await self._store.list_approvals(
            status=TrackedStatus.PENDING, limit=1_000_000
        ):
            if feed_healthy:
                at = next_check_at(tracked, now, feed_healthy=True)
            else:
                at = now + FALLBACK_SPREAD * random.random()  # noqa: S311 - spreading, not a secret
            await self._store.reschedule(tracked.approval_id, at)

    # --- due checks ---------------------------------------------------------------
    async def check_due(self) -> int:
        """Read a batch of the approvals whose next check is due; returns how many were read.

        A full batch read without errors asks for another run at once (`on_more_due`), so
        a mass expiry drains as fast as OpenTrain answers — the Slack updates it queues are
        paced by the notifier — rather than one batch per interval; while reads fail, one
        batch per interval.
        """
        now = self._clock.now()
        failures = self._read_failures
        due = await self._store.claim_due(now, self._owner, limit=DUE_BATCH, lease=DUE_CLAIM_LEASE)
        if not due:
            return 0
        limit = asyncio.Semaphore(DUE_CONCURRENCY)

        async def one(tracked: TrackedApproval) -> None:
            async with limit:
                await self.refresh(tracked)

        await asyncio.gather(*(one(t) for t in due))
        if len(due) >= DUE_BATCH and self._read_failures == failures:
            self._on_more_due()
        return len(due)

    async def refresh(self, tracked: TrackedApproval) -> bool:
        """Read one approval from OpenTrain and apply what it says; True if it resolved now."""
        now = self._clock.now()
        try:
            approval = await self._opentrain.get_approval(tracked.approval_id)
        except NotFound:
            # Another account's token, or a token change: no retry will bring it back.
            def gone(current: TrackedApproval) -> TrackedApproval:
                return current.evolve(status=TrackedStatus.NOT_FOUND, resolved_at=now)

            return await self._resolve(tracked.approval_id, gone, now)
        except OpenTrainError as exc:
            self._read_failures += 1
            retry_at = now + READ_RETRY * (1 + random.random())  # noqa: S311
            log.warning(
                "approval read failed %s",
                log_kv(approval_id=tracked.approval_id, error=exc.code, retry_at=retry_at),
            )
            await self._store.reschedule(tracked.approval_id, retry_at)
            return False
        return await self.apply(tracked, approval)

    async def apply(self, tracked: TrackedApproval, approval: Approval) -> bool:
        """Apply what OpenTrain says about `tracked`; True if it resolved now."""
        now = self._clock.now()
        if may_be_superseded(approval):
            if await self._store.claim_key(f"decline-held:{approval.id}", timedelta(days=1)):
                # First sighting of a hire that did not go through: look again after the
                # grace, so a newer request being adopted right now can claim it. The
                # once-key makes the hold happen once, whatever the clocks say.
                await self._store.reschedule(approval.id, now + SUPERSEDE_GRACE)
                return False
            newer = await self._newer_hire(tracked)
            if newer is not None:
                return await self._resolve(
                    tracked.approval_id, lambda current: superseded(current, newer, now), now
                )
        pending = outcome_of(approval) is TrackedStatus.PENDING
        if pending and not overdue(approval, now):
            healthy = await self.feed_healthy()
            jitter = random.random()  # noqa: S311
            await self._store.reschedule(
                tracked.approval_id,
                next_check_at(tracked, now, feed_healthy=healthy, jitter=jitter),
            )
            return False
        if pending:  # an hour past expiry and still not ended: stop asking
            log.warning(
                "approval never ended in OpenTrain; no longer tracked %s",
                log_kv(approval_id=approval.id, status=approval.status_raw),
            )
            await self._audit("ended_unknown", tracked, "bot", status=approval.status_raw)
        return await self._resolve(
            tracked.approval_id, lambda current: resolve(current, approval), now
        )

    async def _newer_hire(self, tracked: TrackedApproval) -> TrackedApproval | None:
        """The newest hire request for the same proposal that this bot knows, if any."""
        if tracked.proposal_id is None:
            return None
        newer = [
            other
            for other in await self._store.approvals_for_proposal(tracked.proposal_id)
            if other.type is ApprovalType.PROPOSAL_HIRE and other.adopted_at > tracked.adopted_at
        ]
        return max(newer, key=lambda other: other.adopted_at, default=None)

    async def _transition(
        self,
        approval_id: str,
        change: Callable[[TrackedApproval], TrackedApproval],
        now: datetime,
    ) -> TrackedApproval | None:
        """Apply `change` to the current pending record, compare-and-set; the new record if we won.

        The copy we change must be current (the store checks its version), so a
        card ts recorded meanwhile is never lost; on such a race we re-read and
        try again while the approval is still pending.
        """
        for _ in range(TRANSITION_ATTEMPTS):
            current = await self._store.get_approval(approval_id)
            if current is None or current.status is not TrackedStatus.PENDING:
                return None
            updated = change(current)
            if await self._store.transition(
                approval_id, TrackedStatus.PENDING, updated, outcome_effects(updated, now)
            ):
                self._on_outcome(approval_id)  # the one winner of this outcome, in any replica
                return updated
        log.warning("transition kept racing %s", log_kv(approval_id=approval_id))
        return None

    async def _resolve(
        self,
        approval_id: str,
        change: Callable[[TrackedApproval], TrackedApproval],
        now: datetime,
    ) -> bool:
        updated = await self._transition(approval_id, change, now)
        if updated is None:
            return False
        status = updated.status.value
        await self._audit("outcome", updated, "opentrain", status=status)
        log.info("approval resolved %s", log_kv(approval_id=approval_id, status=status))
        self._on_effects()
        return True

    async def _audit(
        self, action: str, tracked: TrackedApproval, actor: str, **details: object
    ) -> None:
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action=action,
                actor=actor,
                approval_id=tracked.approval_id,
                details=dict(details),
            )
        )


def requester_actor(requester: Requester) -> str:
    return f"{requester.kind}:{requester.id}"
