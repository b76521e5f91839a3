"""The optional daily digest of pending approvals, most money at risk first.

On when DIGEST_CHANNEL and DIGEST_TIME (HH:MM, UTC) are both set.

Every replica runs the same tick; a once-key per date picks the one that
queues it, and the outbox posts it exactly once (its effect id names the date, so
queuing it again is a no-op; a failed post is retried there).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from bot import cards
from bot.audit_log import AuditEntry
from bot.cards.facts import money_at_stake
from bot.clock import Clock
from bot.notifier import Notifier
from bot.store import Store
from bot.store.kinds import DIGEST_POSTED
from bot.tracked_approvals import TrackedApproval, TrackedStatus

POSTING_LEASE = timedelta(minutes=10)
ALL_PENDING = 1_000_000


class Digest:
    def __init__(
        self, *, store: Store, clock: Clock, notifier: Notifier, channel_id: str, at: time
    ) -> None:
        self._store = store
        self._clock = clock
        self._notifier = notifier  # the only writer of bot messages
        self._channel_id = channel_id
        self._at = at  # UTC

    async def tick(self) -> bool:
        """Queue today's digest if it is time and nobody has; True if this call queued it."""
        now = self._clock.now()
        if now < datetime.combine(now.date(), self._at, tzinfo=UTC):
            return False
        day = now.date().isoformat()
        if await self._store.get_record(DIGEST_POSTED) == day:
            return False
        if not await self._store.claim_key(f"digest:{day}", POSTING_LEASE):
            return False
        pending = await self._store.list_approvals(status=TrackedStatus.PENDING, limit=ALL_PENDING)
        message = cards.digest_message(most_at_risk_first(pending), now=now)
        queued = await self._notifier.queue_message(
            f"digest:{day}", message, channel=self._channel_id
        )
        await self._store.put_record(DIGEST_POSTED, "", day)
        await self._store.append_audit(
            AuditEntry(
                at=now,
                action="digest_posted",
                actor="bot",
                details={"channel": self._channel_id, "effect": queued, "pending": len(pending)},
            )
        )
        return True


def most_at_risk_first(approvals: Iterable[TrackedApproval]) -> list[TrackedApproval]:
    """Most money at stake first (unknown amounts last); ties: soonest to expire."""

    def key(approval: TrackedApproval) -> tuple[bool, Decimal, datetime]:
        stake = money_at_stake(approval)
        return (stake is None, -(stake or Decimal(0)), approval.expires_at)

    return sorted(approvals, key=key)
