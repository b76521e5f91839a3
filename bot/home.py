"""The App Home inbox: for one person, what waits on them, what they asked for, how things ended.

"Waiting on you" lists pending approvals whose tier names the person (or a user
group of theirs), or that were escalated to them, most urgent first: those expiring
within 12 h, then by money at stake. The notifier publishes these views when
someone opens the tab and, through `REFRESH_HOME` effects, when an approval
they see resolves (`views_for_approval`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from datetime import datetime, timedelta
from decimal import Decimal

from slack_sdk.models.views import View

from bot import cards
from bot.approver_lists import Approvers, Lookups
from bot.cards.facts import money_at_stake
from bot.clock import Clock
from bot.people import People
from bot.store import Store
from bot.tracked_approvals import TrackedApproval, TrackedStatus

URGENT_WITHIN = timedelta(hours=12)
RECENT_OUTCOMES = 5
# Outcomes are looked for among the most recently adopted approvals only.
RECENT_SCAN = 200
ALL_PENDING = 1_000_000


class Home:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        approvers: Approvers,
        people: People,
        opentrain_host: str,
    ) -> None:
        self._store = store
        self._clock = clock
        self._approvers = approvers
        self._people = people
        self._opentrain_host = opentrain_host

    async def view_for(self, user_id: str) -> View:
        """The Home tab of `user_id` as of now."""
        snapshot = await self._snapshot()
        return await self._render(user_id, snapshot, Lookups())

    async def views_for_approval(
        self, approval: TrackedApproval, up_to_date: Set[str] = frozenset()
    ) -> list[tuple[str, View]]:
        """A fresh Home tab for everyone who sees `approval` (its requester and its
        approvers) but the users in `up_to_date`; lists nothing when that is everyone."""
        seen = Lookups()
        viewers = sorted(await self._approvers.people_of(approval, seen))
        if approval.requester.kind == "slack":
            viewers = [approval.requester.id, *viewers]
        stale = [user for user in dict.fromkeys(viewers) if user not in up_to_date]
        if not stale:
            return []
        snapshot = await self._snapshot()
        views: list[tuple[str, View]] = []
        for user in stale:
            if (await self._people.person(user)).unreachable is None:
                views.append((user, await self._render(user, snapshot, seen)))
        return views

    async def _snapshot(self) -> list[TrackedApproval]:
        pending = await self._store.list_approvals(status=TrackedStatus.PENDING, limit=ALL_PENDING)
        recent = await self._store.list_approvals(limit=RECENT_SCAN)
        return [*pending, *(a for a in recent if a.status.is_terminal)]

    async def _render(
        self,
        user_id: str,
        approvals: Sequence[TrackedApproval],
        seen: Lookups,
    ) -> View:
        now = self._clock.now()
        waiting: list[TrackedApproval] = []
        requested: list[TrackedApproval] = []
        outcomes: list[TrackedApproval] = []
        tiers: dict[str, str] = {}  # pending approval id → its tier, when above the base
        for approval in approvals:
            asked = approval.requester.kind == "slack" and approval.requester.id == user_id
            approver = user_id in await self._approvers.people_of(approval, seen)
            if approval.status.is_terminal:
                if asked or approver:
                    outcomes.append(approval)
                continue
            if approver and not asked:  # four eyes: your own request waits on others
                waiting.append(approval)
            if asked:
                requested.append(approval)
            if asked or approver:
                tier = (await self._approvers.placement(approval, seen)).tier
                if tier is not None and tier.over:
                    tiers[approval.approval_id] = tier.amounts()
        return cards.home_view(
            waiting_on_you=by_urgency(waiting, now),
            requested_by_you=by_urgency(requested, now),
            recent_outcomes=latest_outcomes(outcomes),
            now=now,
            opentrain_host=self._opentrain_host,
            tiers=tiers,
        )


def by_urgency(approvals: Iterable[TrackedApproval], now: datetime) -> list[TrackedApproval]:
    """Expiring within 12 h first; then most money at stake; then soonest to expire."""

    def key(approval: TrackedApproval) -> tuple[bool, Decimal, datetime]:
        urgent = approval.expires_at - now <= URGENT_WITHIN
        stake = money_at_stake(approval) or Decimal(0)
        return (not urgent, -stake, approval.expires_at)

    return sorted(approvals, key=key)


def latest_outcomes(approvals: Iterable[TrackedApproval]) -> list[TrackedApproval]:
    """The few most recently resolved, newest first."""

    def resolved(approval: TrackedApproval) -> datetime:
        return approval.resolved_at or approval.adopted_at

    return sorted(approvals, key=resolved, reverse=True)[:RECENT_OUTCOMES]
