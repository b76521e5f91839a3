"""Who is expected to confirm approvals in OpenTrain, per channel and globally.

OpenTrain does not tell the bot who may confirm, so people configure it: a
channel's own list, or else the global one. Lists hold Slack users (U…/W…)
and user groups (S…); a group stays a group in the store and on the card and
is expanded to its members only when someone must be reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from bot.audit_log import AuditEntry
from bot.clock import Clock
from bot.people import People
from bot.store import Store
from bot.store.kinds import APPROVERS
from bot.tracked_approvals import TrackedApproval

GLOBAL = "global"

Change = Literal["set", "add", "remove"]
AdminLookup = Callable[[], Awaitable[list[str]]]


@dataclass(frozen=True)
class Expected:
    """Who the card names as approvers, and whether its requester is the only one of them."""

    configured: list[str]  # users and groups, as configured for the card's channel
    requester_alone: bool  # four eyes: then the admins are reminded instead


class Approvers:
    def __init__(
        self, store: Store, clock: Clock, people: People, admins: AdminLookup | None = None
    ) -> None:
        self._store = store
        self._clock = clock
        self._people = people
        self._admins = admins

    async def for_channel(self, channel_id: str | None) -> list[str]:
        """User (U…) and group (S…) ids expected to confirm approvals posted in `channel_id`.

        A channel's own list replaces the global one (it does not add to it), so a
        channel can name a narrower set of people than everywhere else.
        """
        if channel_id is not None:
            own = await self._get(channel_id)
            if own:
                return own
        return await self._get(GLOBAL)

    async def people_for_channel(self, channel_id: str | None) -> list[str]:
        """The user ids behind `for_channel`, groups expanded (reachable or not)."""
        return await self._people.expand(await self.for_channel(channel_id))

    async def expected(self, approval: TrackedApproval) -> Expected:
        """What the card of `approval` says about its approvers."""
        configured = await self.for_channel(approval.channel_id)
        everyone = await self._people.expand(configured)
        return Expected(configured, bool(everyone) and not others(everyone, approval))

    async def to_remind(
        self, approval: TrackedApproval, cache: dict[str | None, list[str]] | None = None
    ) -> list[str]:
        """Who is reminded about `approval`: its channel's approvers except whoever asked
        (four eyes); when that leaves nobody of several, the admins (except whoever asked).

        `cache` keeps one lookup per channel (and of the admins) across one reminder tick.
        """
        cache = {} if cache is None else cache
        channel = approval.channel_id
        if channel not in cache:
            cache[channel] = await self.people_for_channel(channel)
        everyone = cache[channel]
        reminded = others(everyone, approval)
        if everyone and not reminded and self._admins is not None:
            key = "\0admins"  # never a channel id
            if key not in cache:
                cache[key] = await self._admins()
            reminded = others(cache[key], approval)
        return reminded

    async def all(self) -> dict[str, list[str]]:
        """Every configured list by scope ("global" or a channel id)."""
        stored = await self._store.list_records(APPROVERS)
        return {scope: members for scope, members in stored.items() if members}

    async def change(
        self, scope: str, change: Change, members: Sequence[str], *, by_user: str
    ) -> list[str]:
        """Set, extend or trim the list of `scope` ("global" or a channel id); audited."""
        before = await self._get(scope)
        match change:
            case "set":
                after = list(dict.fromkeys(members))
            case "add":
                after = list(dict.fromkeys([*before, *members]))
            case "remove":
                gone = set(members)
                after = [member for member in before if member not in gone]
        await self._store.put_record(APPROVERS, scope, after)
        await self._store.append_audit(
            AuditEntry(
                at=self._clock.now(),
                action="approvers_changed",
                actor=f"slack:{by_user}",
                details={"scope": scope, "change": change, "before": before, "after": after},
            )
        )
        return after

    async def _get(self, scope: str) -> list[str]:
        return await self._store.get_record(APPROVERS, scope) or []


def others(users: Sequence[str], approval: TrackedApproval) -> list[str]:
    """`users` without the person who asked for `approval` (an agent asks as nobody here)."""
    requester = approval.requester
    if requester.kind != "slack":
        return list(users)
    return [user for user in users if user != requester.id]
