"""The App Home inbox: for one person, what waits on them, what they asked for, how things ended.

"Waiting on you" lists pending approvals whose tier names the person (or a user
group of theirs), or that were escalated to them, most urgent first: those expiring
within 12 h, then by money at stake. The notifier publishes these views when
someone opens the tab and, through `REFRESH_HOME` effects, when an approval
they see resolves (`views_for_approval`).

A tab reads only the pending approvals that may concern its person (the store's
pending index, bot/store/pending_index.py): those in the channels where a tier names
them, everywhere global tiers still apply when a global tier does, those they asked
for and those escalated to them or a group of theirs. When in doubt an approval is
read; who is really expected to act is decided here (`Approvers.people_of`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence, Set
from datetime import datetime, timedelta
from decimal import Decimal

from slack_sdk.models.views import View

from bot import cards
from bot.approver_lists import Approvers, Lookups
from bot.approver_tiers import GLOBAL
from bot.cards.facts import money_at_stake
from bot.clock import Clock
from bot.people import People
from bot.store import Store
from bot.store.pending_index import ADMINS, Concern
from bot.tracked_approvals import TrackedApproval

URGENT_WITHIN = timedelta(hours=12)
RECENT_OUTCOMES = 5
# Outcomes are looked for among the most recently adopted approvals only.
RECENT_SCAN = 200


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
        seen = Lookups()
        approvals = await self._approvals_of(user_id, await self._recent(), seen)
        return await self._render(user_id, approvals, seen)

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
        recent = await self._recent()
        views: list[tuple[str, View]] = []
        for user in stale:
            if (await self._people.person(user)).unreachable is None:
                approvals = await self._approvals_of(user, recent, seen)
                views.append((user, await self._render(user, approvals, seen)))
        return views

    async def _recent(self) -> list[TrackedApproval]:
        """Outcomes among the most recently adopted approvals."""
        recent = await self._store.list_approvals(limit=RECENT_SCAN)
        return [approval for approval in recent if approval.status.is_terminal]

    async def _approvals_of(
        self, user_id: str, recent: Sequence[TrackedApproval], seen: Lookups
    ) -> list[TrackedApproval]:
        """The pending approvals that may concern `user_id`, and the recent outcomes."""
        pending = await self._store.pending_concerning(await self._concern(user_id, seen))
        return [*pending, *recent]

    async def _concern(self, user_id: str, seen: Lookups) -> Concern:
        """Where an approval waiting on `user_id` (or asked for by them) can be."""
        scopes = await self._approvers.all()
        channels: set[str | None] = set()
        global_from: Decimal | None = None  # their lowest global tier
        for scope, tiers in scopes.items():
            for tier in tiers.tiers:
                if user_id not in await self._approvers.expand(tier.members, seen):
                    continue
                if scope != GLOBAL:
                    channels.add(scope)
                elif global_from is None or tier.over < global_from:
                    global_from = tier.over
        but: frozenset[str] | None = None
        if global_from is not None:
            # Global tiers apply in a channel below its own lowest tier (approver_tiers.ladder).
            but = frozenset(
                scope
                for scope, tiers in scopes.items()
                if scope != GLOBAL and tiers.tiers[0].over <= global_from
            )
        recipients = {user_id}
        for recipient in await self._store.escalation_recipients():
            if recipient == ADMINS:
                told = await self._approvers.admins(seen)
            elif recipient.startswith("S"):  # a user group: is the person in it?
                told = await self._approvers.expand((recipient,), seen)
            else:
                continue
            if user_id in told:
                recipients.add(recipient)
        return Concern(
            channels=frozenset(channels),
            all_channels_but=but,
            requester=user_id,
            recipients=frozenset(recipients),
        )

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
