"""Who is expected to confirm approvals in OpenTrain: tiers per channel and globally.

OpenTrain does not tell the bot who may confirm, so people configure it: per scope
(a channel, or "global"), tiers of approvers from an amount up (bot/approver_tiers.py
holds the rules). Tiers hold Slack users (U…/W…) and user groups (S…); a group stays
a group in the store and on the card and is expanded to its members only when
someone must be reached. Every change is audited.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from bot.approver_tiers import GLOBAL, Placed, ScopeTiers, Tier, ladder, level_of
from bot.audit_log import AuditEntry
from bot.clock import Clock
from bot.explain import NotPossible
from bot.money import format_usd, usd_text
from bot.people import People
from bot.store import Store
from bot.store.kinds import APPROVERS
from bot.tracked_approvals import TrackedApproval, money_at_stake

Change = Literal["set", "add", "remove"]
AdminLookup = Callable[[], Awaitable[list[str]]]


@dataclass(frozen=True)
class Expected:
    """Who the card names as approvers, and whether its requester is the only one of them."""

    configured: list[str]  # users and groups of the approval's tier
    requester_alone: bool  # four eyes: then the admins are reminded instead
    label: str = "Approvers"  # the tier's name: "Approvers for $1,000.00 and more"


@dataclass(frozen=True)
class Placement:
    """The tiers that apply to an approval's channel, and which of them is its own."""

    tiers: list[Placed]
    level: int  # an index in `tiers`; -1: its amount is below every tier

    @property
    def tier(self) -> Tier | None:
        return self.tiers[self.level].tier if self.level >= 0 else None


@dataclass
class Lookups:
    """What one pass over many approvals looks up once: ladders per channel, group members."""

    ladders: dict[str | None, list[Placed]] = field(default_factory=dict)
    people: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    admins: list[str] | None = None


class Approvers:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        people: People,
        admins: AdminLookup | None = None,
        escalate_after: timedelta | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._people = people
        self._admins = admins
        self.escalate_after = escalate_after  # ESCALATE_AFTER: a tier's own delay wins

    # --- whose approval is it ---------------------------------------------------------
    async def placement(self, approval: TrackedApproval, seen: Lookups | None = None) -> Placement:
        """The tier of `approval`: the highest one its money at stake reaches in its channel
        (else globally); an amount the bot could not read gets the highest tier."""
        return await self.placement_for(approval.channel_id, money_at_stake(approval), seen)

    async def placement_for(
        self, channel: str | None, amount: Decimal | None, seen: Lookups | None = None
    ) -> Placement:
        """The tier `amount` reaches in `channel` (None: no channel, so the global tiers)."""
        seen = seen or Lookups()
        if channel not in seen.ladders:
            own = await self.scope(channel) if channel is not None else None
            seen.ladders[channel] = ladder(own, await self.scope(GLOBAL))
        tiers = seen.ladders[channel]
        return Placement(tiers, level_of(tiers, amount))

    async def expected(self, approval: TrackedApproval) -> Expected:
        """What the card of `approval` says about its approvers."""
        tier = (await self.placement(approval)).tier
        configured = list(tier.members) if tier else []
        everyone = await self._people.expand(configured)
        alone = bool(everyone) and not others(everyone, approval)
        return Expected(configured, alone, tier.label() if tier else "Approvers")

    async def people_of(self, approval: TrackedApproval, seen: Lookups | None = None) -> list[str]:
        """Everyone expected to act on `approval`: its tier and every level it was escalated to
        (the admins for an escalation past the top tier); the requester included."""
        seen = seen or Lookups()
        tier = (await self.placement(approval, seen)).tier
        users = await self.expand(tier.members if tier else (), seen)
        for escalation in approval.escalations:
            told = await self.expand(escalation.to, seen) if escalation.to else None
            users += told if told is not None else await self.admins(seen)
        return list(dict.fromkeys(users))

    async def to_remind(self, approval: TrackedApproval, seen: Lookups | None = None) -> list[str]:
        """Who is reminded about `approval`: `people_of` except whoever asked (four eyes);
        when that leaves nobody of several, the admins (except whoever asked)."""
        seen = seen or Lookups()
        everyone = await self.people_of(approval, seen)
        reminded = others(everyone, approval)
        if everyone and not reminded:
            reminded = others(await self.admins(seen), approval)
        return reminded

    async def expand(self, ids: Sequence[str], seen: Lookups) -> list[str]:
        key = tuple(ids)
        if key not in seen.people:
            seen.people[key] = await self._people.expand(ids)
        return list(seen.people[key])

    async def admins(self, seen: Lookups) -> list[str]:
        if seen.admins is None:
            seen.admins = await self._admins() if self._admins is not None else []
        return list(seen.admins)

    # --- what is configured -----------------------------------------------------------
    async def scope(self, scope: str) -> ScopeTiers:
        """The tiers of `scope` ("global" or a channel id); a list stored before tiers
        existed reads as the base tier."""
        stored = await self._store.get_record(APPROVERS, scope)
        if isinstance(stored, list):
            return ScopeTiers.of([Tier(members=tuple(stored))])
        return stored or ScopeTiers()

    async def all(self) -> dict[str, ScopeTiers]:
        """Every scope with tiers ("global" or a channel id)."""
        stored = await self._store.list_records(APPROVERS)
        scopes = {scope: await self.scope(scope) for scope in stored}
        return {scope: tiers for scope, tiers in scopes.items() if tiers.tiers}

    async def version(self) -> str:
        """Text that changes whenever any scope's tiers change: a tick that keeps what the
        tiers implied (bot/reminders.py, bot/escalations.py) then looks at everything again."""
        scopes = await self.all()
        return json.dumps({scope: tiers.model_dump(mode="json") for scope, tiers in scopes.items()})

    async def change(
        self,
        scope: str,
        change: Change,
        members: Sequence[str],
        *,
        by_user: str,
        over: Decimal = Decimal(0),
    ) -> list[str]:
        """Set, extend or trim the tier from `over` of `scope`; audited. A tier left with
        nobody is gone (with its escalation delay and admins)."""
        tiers = await self.scope(scope)
        current = tiers.at(over)
        before = list(current.members) if current else []
        match change:
            case "set":
                after = list(dict.fromkeys(members))
            case "add":
                after = list(dict.fromkeys([*before, *members]))
            case "remove":
                gone = set(members)
                after = [member for member in before if member not in gone]
        tier = (current or Tier(over=over, members=())).model_copy(update={"members": tuple(after)})
        await self._save(scope, tiers.put(tier))
        await self._audit(
            "approvers_changed", by_user, scope, over, change=change, before=before, after=after
        )
        return after

    async def set_escalation(
        self, scope: str, over: Decimal, after: timedelta | None, *, off: bool, by_user: str
    ) -> Tier:
        """A tier's own escalation delay (`after`), none (`off`), or ESCALATE_AFTER (neither)."""
        tiers = await self.scope(scope)
        tier = self._existing(tiers, scope, over).model_copy(
            update={"escalate_after": after, "never_escalate": off}
        )
        await self._save(scope, tiers.put(tier))
        shown = "off" if off else (str(int(after.total_seconds())) + "s" if after else "default")
        await self._audit("escalation_changed", by_user, scope, over, after=shown)
        return tier

    async def set_admins(
        self, scope: str, over: Decimal, members: Sequence[str], *, by_user: str
    ) -> Tier:
        """Who decides agents' requests over a limit at this tier (none: the admins)."""
        tiers = await self.scope(scope)
        current = self._existing(tiers, scope, over)
        tier = current.model_copy(update={"admins": tuple(dict.fromkeys(members))})
        await self._save(scope, tiers.put(tier))
        await self._audit(
            "tier_admins_changed",
            by_user,
            scope,
            over,
            before=list(current.admins),
            after=list(tier.admins),
        )
        return tier

    # --- storing ----------------------------------------------------------------------
    @staticmethod
    def _existing(tiers: ScopeTiers, scope: str, over: Decimal) -> Tier:
        tier = tiers.at(over)
        if tier is None:
            where = "globally" if scope == GLOBAL else "in that channel"
            start = f"from {format_usd(over)}" if over else "without `over`"
            raise NotPossible(
                f"No approvers are set {start} {where}: set that tier's approvers first."
            )
        return tier

    async def _save(self, scope: str, tiers: ScopeTiers) -> None:
        await self._store.put_record(APPROVERS, scope, tiers)

    async def _audit(
        self, action: str, by_user: str, scope: str, over: Decimal, **details: object
    ) -> None:
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action=action,
                actor=f"slack:{by_user}",
                details={"scope": scope, "over": usd_text(over), **details},
            )
        )


def others(users: Sequence[str], approval: TrackedApproval) -> list[str]:
    """`users` without the person who asked for `approval` (an agent asks as nobody here)."""
    requester = approval.requester
    if requester.kind != "slack":
        return list(users)
    return [user for user in users if user != requester.id]
