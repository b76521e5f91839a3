"""Who people are in Slack: time zone, reachability, groups, membership and standing.

Reads only (`users.info`, `users.list`, `usergroups.users.list`,
`conversations.members`), cached for a while: a reminder tick asks about the
same approvers every 30 s, and a changed time zone or group membership may
take that long to show. Permission checks ask for fresher answers (`max_age`).
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
# Who is in a channel decides what `/opentrain pending` shows someone: keep it short.
_MEMBERS_TTL = 60.0
_ADMINS_KEY = "workspace-admins"  # cached beside the user groups
# users.info answers these for someone who is not (or no longer) a person we can DM.
_NO_SUCH_USER = frozenset({"user_not_found", "user_not_visible"})


@dataclass(frozen=True)
class Person:
    user_id: str
    tz_name: str | None = None
    deleted: bool = False
    is_bot: bool = False
    team_id: str | None = None  # their home team: another one for a Slack Connect user
    enterprise_id: str | None = None  # their organisation on Enterprise Grid
    is_admin: bool = False  # workspace admin or owner
    is_guest: bool = False  # a restricted (multi-channel) or ultra-restricted guest
    # Slack answered `user_not_found`: deactivated and gone, or a Slack Connect user whose
    # organisation keeps their profile (the request's own team then says which).
    unknown: bool = False

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
        self._channels: dict[str, tuple[float, frozenset[str]]] = {}

    async def person(self, user_id: str, *, max_age: timedelta | None = None) -> Person:
        """Who `user_id` is; a user Slack does not know counts as deactivated.

        `max_age` asks for an answer fresher than the cache's own lifetime.
        Other Slack errors (outages, rate limits) propagate: the caller tries again later.
        """
        cached = self._people.get(user_id)
        limit = self._ttl if max_age is None else min(self._ttl, max_age.total_seconds())
        if cached is not None and self._monotonic() - cached[0] < limit:
            return cached[1]
        try:
            response = await self._slack.users_info(user=user_id)
        except SlackApiError as exc:
            if exc.response.get("error") not in _NO_SUCH_USER:
                raise
            person = Person(user_id, deleted=True, unknown=True)
        else:
            person = person_of(response.get("user") or {}, user_id)
        self._people[user_id] = (self._monotonic(), person)
        return person

    async def workspace_admins(self) -> list[str]:
        """The workspace's admins and owners who are people here (`users.list`), cached."""
        cached = self._groups.get(_ADMINS_KEY)
        if cached is not None and self._fresh(cached[0]):
            return cached[1]
        admins: list[str] = []
        cursor: str | None = None
        while True:
            response = await self._slack.users_list(limit=200, cursor=cursor)
            for user in response.get("members") or []:
                found = person_of(user, str(user.get("id", "")))
                if found.is_admin and found.unreachable is None and not found.is_guest:
                    admins.append(found.user_id)
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                break
        self._groups[_ADMINS_KEY] = (self._monotonic(), admins)
        return admins

    async def channel_members(self, channel_id: str) -> frozenset[str]:
        """Who is in a channel; empty when the bot may not see it (fails closed)."""
        cached = self._channels.get(channel_id)
        if cached is not None and self._monotonic() - cached[0] < _MEMBERS_TTL:
            return cached[1]
        members: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                response = await self._slack.conversations_members(
                    channel=channel_id, limit=1000, cursor=cursor
                )
                members.update(str(member) for member in response.get("members") or [])
                cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
                if cursor is None:
                    break
        except SlackApiError as exc:
            log.info(
                "channel members unreadable %s",
                log_kv(channel=channel_id, error=exc.response.get("error")),
            )
            return frozenset()
        found = frozenset(members)
        self._channels[channel_id] = (self._monotonic(), found)
        return found

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


def person_of(user: dict[str, object], user_id: str) -> Person:
    """A `users.info` / `users.list` user object as a Person."""
    enterprise = user.get("enterprise_user")
    enterprise_id = enterprise.get("enterprise_id") if isinstance(enterprise, dict) else None
    return Person(
        user_id,
        tz_name=str(user.get("tz") or "") or None,
        deleted=bool(user.get("deleted")),
        is_bot=bool(user.get("is_bot")),
        team_id=str(user.get("team_id") or "") or None,
        enterprise_id=str(enterprise_id) if enterprise_id else None,
        is_admin=bool(user.get("is_admin") or user.get("is_owner") or user.get("is_primary_owner")),
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
    )
