"""The pending index: which pending approvals concern whom, and when each is looked at next.

Readers that used to go through every pending approval — each Home tab (what concerns
one person) and each reminder or escalation tick (what may be due now) — read this
index instead. Both stores keep it beside each pending approval, in the same write as
the approval itself (add, update, transition):
- its channel (`channel_key`: '' for none) and its requester (a Slack user id; an
  agent has no Home tab);
- who it was escalated to (`recipients_of`: the users and groups of each level told,
  or ADMINS for a level past the top tier);
- per `Watch`, when it is looked at next: from its adoption when it is added, then
  whatever the tick that watches it sets (`set_watches`; None takes it off that watch
  until set again).
A terminal approval leaves the index in the write that ends it. A store opened on data
written before the index existed indexes its pending approvals once, when it opens.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from bot.tracked_approvals import TrackedApproval

# An escalation past the top tier tells the admins (`Escalation.to` is empty).
ADMINS = "*admins"


class Watch(StrEnum):
    """A tick that looks at each pending approval only when something of it may be due."""

    REMINDERS = "reminders"
    ESCALATIONS = "escalations"


@dataclass(frozen=True)
class Concern:
    """What makes a pending approval concern one person: any of these (a superset: the
    reader filters by who is really expected to act)."""

    channels: frozenset[str | None] = frozenset()  # in these channels (None: without one)
    # In every channel but these, and without a channel (approver tiers set globally);
    # None: no such part.
    all_channels_but: frozenset[str] | None = None
    requester: str | None = None  # asked for by this Slack user
    recipients: frozenset[str] = frozenset()  # escalated to any of these (users, groups, ADMINS)


def channel_key(channel_id: str | None) -> str:
    return channel_id or ""


def requester_of(approval: TrackedApproval) -> str | None:
    """The Slack user who asked, if a Slack user did."""
    return approval.requester.id if approval.requester.kind == "slack" else None


def recipients_of(approval: TrackedApproval) -> list[str]:
    """Everyone and every group `approval` was escalated to (ADMINS past the top tier)."""
    told: list[str] = []
    for escalation in approval.escalations:
        told += escalation.to or (ADMINS,)
    return list(dict.fromkeys(told))


class PendingIndex(Protocol):
    """The store's part that answers from the pending index (see the module docstring)."""

    async def pending_concerning(self, concern: Concern) -> list[TrackedApproval]:
        """Pending approvals matching any part of `concern`, newest adopted first."""
        ...

    async def escalation_recipients(self) -> set[str]:
        """Everyone, every group (and ADMINS) some pending approval was escalated to."""
        ...

    async def watched(self, watch: Watch, until: datetime, *, limit: int) -> list[TrackedApproval]:
        """Pending approvals on `watch` at or before `until`, earliest first, at most `limit`."""
        ...

    async def set_watches(self, watch: Watch, times: Mapping[str, datetime | None]) -> None:
        """When to look at each approval next on `watch` (None: off it); only pending ones."""
        ...

    async def watch_all(self, watch: Watch) -> None:
        """Every pending approval back on `watch` from its adoption, as when it was added
        (what the tick's times depended on changed: tiers, settings)."""
        ...
