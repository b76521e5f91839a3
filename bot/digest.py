"""The optional daily digest of pending approvals, most money at risk first.

On when DIGEST_CHANNEL and DIGEST_TIME (HH:MM, UTC) are both set.

Every replica runs the same tick; a once-key per date picks the one that
posts, and the date is recorded only after the post landed, so a failed post
is tried again (by any replica) once the key lapses.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from slack_sdk.errors import SlackApiError

from bot import cards
from bot.approvals import AuditEntry, TrackedApproval, TrackedStatus
from bot.cards.facts import money_at_stake
from bot.clock import Clock
from bot.logs import log_kv
from bot.store import Store

log = logging.getLogger(__name__)

LAST_POSTED_KEY = "digest:last-posted"
POSTING_LEASE = timedelta(minutes=10)
ALL_PENDING = 1_000_000

PostMessage = Callable[[str, cards.SlackMessage], Awaitable[str]]


class Digest:
    def __init__(
        self, *, store: Store, clock: Clock, post: PostMessage, channel_id: str, at: time
    ) -> None:
        self._store = store
        self._clock = clock
        self._post = post  # the notifier's: it is the only writer of bot messages
        self._channel_id = channel_id
        self._at = at  # UTC

    async def tick(self) -> bool:
        """Post today's digest if it is time and nobody has; True if this call posted it."""
        now = self._clock.now()
        if now < datetime.combine(now.date(), self._at, tzinfo=UTC):
            return False
        day = now.date().isoformat()
        if await self._store.get_config(LAST_POSTED_KEY) == day:
            return False
        if not await self._store.claim_key(f"digest:{day}", POSTING_LEASE):
            return False
        pending = await self._store.list_approvals(status=TrackedStatus.PENDING, limit=ALL_PENDING)
        message = cards.digest_message(most_at_risk_first(pending), now=now)
        try:
            ts = await self._post(self._channel_id, message)
        except SlackApiError as exc:
            log.warning(
                "digest not posted %s",
                log_kv(channel=self._channel_id, error=exc.response.get("error")),
            )
            return False
        await self._store.set_config(LAST_POSTED_KEY, day)
        await self._store.append_audit(
            AuditEntry(
                at=now,
                action="digest_posted",
                actor="bot",
                details={"channel": self._channel_id, "ts": ts, "pending": len(pending)},
            )
        )
        return True


def most_at_risk_first(approvals: Iterable[TrackedApproval]) -> list[TrackedApproval]:
    """Most money at stake first (unknown amounts last); ties: soonest to expire."""

    def key(approval: TrackedApproval) -> tuple[bool, Decimal, datetime]:
        stake = money_at_stake(approval)
        return (stake is None, -(stake or Decimal(0)), approval.expires_at)

    return sorted(approvals, key=key)
