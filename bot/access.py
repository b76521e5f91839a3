"""Who may start money-moving requests (ALLOWED_REQUESTERS: user and user-group ids).

Refusals are audited and explained by `bot.explain` like any other error.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from bot.approvals import AuditEntry
from bot.clock import Clock
from bot.store import Store

GroupMembers = Callable[[str], Awaitable[Sequence[str]]]

# usergroups.users.list is a Tier 2 Slack method (about 20 calls a minute): remember a
# group's members briefly instead of asking on every command.
GROUP_MEMBERS_TTL = timedelta(minutes=1)


class AccessDenied(PermissionError):
    pass


class Access:
    def __init__(
        self, allowed: Sequence[str], group_members: GroupMembers, store: Store, clock: Clock
    ) -> None:
        self._allowed = list(allowed)
        self._group_members = group_members
        self._store = store
        self._clock = clock
        self._groups: dict[str, tuple[datetime, frozenset[str]]] = {}

    async def require(self, user_id: str, action: str) -> None:
        """Raise AccessDenied (audited) unless `user_id` may start `action`."""
        if not self._allowed or user_id in self._allowed:
            return
        for group in (g for g in self._allowed if g.startswith("S")):
            if user_id in await self._members(group):
                return
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action="refused",
                actor=f"slack:{user_id}",
                details={"kind": action, "why": "not in ALLOWED_REQUESTERS"},
            )
        )
        raise AccessDenied(
            "You are not allowed to start money-moving requests. "
            "Ask an admin to add you (or your user group) to ALLOWED_REQUESTERS."
        )

    async def _members(self, group: str) -> frozenset[str]:
        now = self._clock.now()
        cached = self._groups.get(group)
        if cached is not None and now - cached[0] < GROUP_MEMBERS_TTL:
            return cached[1]
        members = frozenset(await self._group_members(group))
        # An empty answer may be a failed lookup (the caller maps Slack errors to []): ask
        # again next time rather than refuse everyone in the group for a minute.
        if members:
            self._groups[group] = (now, members)
        return members
