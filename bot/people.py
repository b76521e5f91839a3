"""Who people are in Slack, as reminders and the Home tab need it: time zone, reachability, groups.

Reads only (`users.info`, `usergroups.users.list`), cached per user and per
group for a while: a reminder tick asks about the same approvers every 30 s,
and a changed time zone or group membership may take that long to show.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import log_kv

log = logging.getLogger(__name__)

CACHE_TTL = timedelta(hours=1)
# users.info answers these for someone who is not (or no longer) a person we can DM.
_NO_SUCH_USER = frozenset({"user_not_found", "user_not_visible"})


@dataclass(frozen=True)
class Person:
    user_id: str
    tz_name: str | None = None
    deleted: bool = False
    is_bot: bool = False

    @property
    def unreachable(self) -> str | None:
        """Why this person cannot get a DM, or None when they can."""
        if self.deleted:
            return "deactivated"
        if self.is_bot:
            return "bot"
        return None

    @property
    def tz(self) -> tzinfo:
        """Their Slack time zone; UTC when Slack gives none or one zoneinfo does not know."""
        if not self.tz_name:
            return UTC
        try:
            return ZoneInfo(self.tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            return UTC


class People:
    """Cached `users.info` and `usergroups.users.list`; caches run on real time (monotonic)."""

    def __init__(
        self,
        slack: AsyncWebClient,
        *,
        ttl: timedelta = CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._slack = slack
        self._ttl = ttl.total_seconds()
        self._monotonic = monotonic
        self._people: dict[str, tuple[float, Person]] = {}
        self._groups: dict[str, tuple[float, list[str]]] = {}

    async def person(self, user_id: str) -> Person:
        """Who `user_id` is; a user Slack does not know counts as deactivated.

        Other Slack errors (outages, rate limits) propagate: the caller tries again later.
        """
        cached = self._people.get(user_id)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        try:
            response = await self._slack.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") not in _NO_SUCH_USER:
                raise
            person = Person(user_id, deleted=True)
        else:
            user = response.get("user") or {}
            person = Person(
                user_id,
                tz_name=user.get("tz") or None,
                deleted=bool(user.get("deleted")),
                is_bot=bool(user.get("is_bot")),
            )
        self._people[user_id] = (self._monotonic(), person)
        return person

    async def members(self, group_id: str) -> list[str]:
        """The users in a user group; an unknown group (or an error) counts as empty."""
        cached = self._groups.get(group_id)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        try:
            response = await self._slack.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning(
                "user group unreadable %s", log_kv(group=group_id, error=exc.response.get("error"))
            )
            return []
        users = [str(user) for user in response.get("users") or []]
        self._groups[group_id] = (self._monotonic(), users)
        return users

    async def expand(self, ids: Sequence[str]) -> list[str]:
        """User ids for a mix of users (U…/W…) and groups (S…): groups expanded, no repeats."""
        users: dict[str, None] = {}
        for member in ids:
            if member.startswith("S"):
                users.update(dict.fromkeys(await self.members(member)))
            else:
                users[member] = None
        return list(users)

    def _fresh(self, stored_at: float) -> bool:
        return self._monotonic() - stored_at < self._ttl
