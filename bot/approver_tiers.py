"""Approver tiers: who confirms which amounts, and who hears when nobody acts.

Pure rules, no I/O (bot/approver_lists.py stores the tiers and asks Slack who is in them):
- A scope (a channel, or "global") keeps tiers, each from an amount up (`over`; the
  base tier is from $0). A request's tier is the highest one its amount reaches —
  the amount a human confirms: a hire's total with fees, a fund or payout amount,
  the escrow a contract end returns.
- A channel's tiers replace the global ones from the channel's lowest tier up; below
  it, the global tiers still apply (a channel that only names finance for $1 000 and
  more keeps the global approvers for smaller amounts).
- An amount the bot could not read gets the highest tier: never fewer eyes than due.
- Escalation: a pending approval nobody acted on `after` its tier's escalation delay
  (the tier's own, else ESCALATE_AFTER) is told to the next tier up, that one's delay
  later to the next, and after the top tier to the admins; a tier whose delay is off
  ends the ladder there. Each level is escalated at most once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal

from pydantic import BaseModel, ConfigDict

from bot.config import QuietHours
from bot.money import format_usd
from bot.reminder_times import outside_quiet

GLOBAL = "global"
# Quiet hours hold an escalation back, but never into the last hours before expiry.
LAST_HOURS = timedelta(hours=2)


class Tier(BaseModel):
    """Who confirms amounts from `over` up in one scope (with at least one member)."""

    model_config = ConfigDict(frozen=True)

    over: Decimal = Decimal(0)
    members: tuple[str, ...]  # users (U…/W…) and user groups (S…)
    escalate_after: timedelta | None = None  # None: ESCALATE_AFTER applies
    never_escalate: bool = False  # `escalate … after off`
    admins: tuple[str, ...] = ()  # decide agents' requests over a limit at this tier

    def label(self) -> str:
        """ "Approvers" (the base tier), "Approvers for $1,000.00 and more"."""
        return "Approvers" if not self.over else f"Approvers for {self.amounts()}"

    def amounts(self) -> str:
        """ "$1,000.00 and more", or "any amount" for the base tier."""
        return f"{format_usd(self.over)} and more" if self.over else "any amount"

    def delay(self, default: timedelta | None) -> timedelta | None:
        """How long an approval waits at this tier before the next level hears."""
        if self.never_escalate:
            return None
        return self.escalate_after or default


class ScopeTiers(BaseModel):
    """Every tier of one scope, lowest first, at most one per amount."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    tiers: tuple[Tier, ...] = ()

    @classmethod
    def of(cls, tiers: Sequence[Tier]) -> ScopeTiers:
        kept = {tier.over: tier for tier in tiers if tier.members}
        return cls(tiers=tuple(kept[over] for over in sorted(kept)))

    def at(self, over: Decimal) -> Tier | None:
        return next((tier for tier in self.tiers if tier.over == over), None)

    def put(self, tier: Tier) -> ScopeTiers:
        """With `tier` replacing the one from the same amount (gone when it has no members)."""
        return ScopeTiers.of([*(t for t in self.tiers if t.over != tier.over), tier])


@dataclass(frozen=True)
class Placed:
    """A tier and the scope it was configured in."""

    scope: str
    tier: Tier


def ladder(channel: ScopeTiers | None, everywhere: ScopeTiers | None) -> list[Placed]:
    """The tiers that apply in a channel, lowest first: its own, and the global ones below."""
    own = [Placed("channel", tier) for tier in (channel.tiers if channel else ())]
    lowest = own[0].tier.over if own else None
    below = [
        Placed(GLOBAL, tier)
        for tier in (everywhere.tiers if everywhere else ())
        if lowest is None or tier.over < lowest
    ]
    return [*below, *own]


def level_of(tiers: Sequence[Placed], amount: Decimal | None) -> int:
    """The index of the tier for `amount` in `tiers`; -1 when the amount is below them all."""
    if amount is None:
        return len(tiers) - 1
    reached = [index for index, placed in enumerate(tiers) if placed.tier.over <= amount]
    return reached[-1] if reached else -1


@dataclass(frozen=True)
class Step:
    """One escalation: level 1 is the first tier above the request's own."""

    level: int
    to: Placed | None  # None: the admins
    due_at: datetime
    waited: timedelta  # since the card was posted


def escalation_steps(
    tiers: Sequence[Placed], start: int, posted_at: datetime, default: timedelta | None
) -> list[Step]:
    """Every escalation an approval at `tiers[start]` would get, in order."""
    steps: list[Step] = []
    waited = timedelta(0)
    for index in range(start, len(tiers)):
        current = tiers[index].tier if index >= 0 else None
        delay = current.delay(default) if current is not None else default
        if delay is None:
            break
        waited += delay
        above = tiers[index + 1] if index + 1 < len(tiers) else None
        steps.append(Step(len(steps) + 1, above, posted_at + waited, waited))
    return steps


def send_at(due_at: datetime, expires_at: datetime, tz: tzinfo, quiet: QuietHours) -> datetime:
    """When one person hears of an escalation due at `due_at`: after their quiet hours,
    but never later than the last hours before expiry (then quiet hours give way)."""
    last_hours = expires_at - LAST_HOURS
    at = outside_quiet(due_at, tz, quiet)
    return at if at <= last_hours else max(due_at, last_hours)
