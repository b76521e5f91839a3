"""The people of a simulated workspace — users (members, guests, bots, Slack Connect
strangers) and user groups — and how each looks in Slack's JSON (`users.info`,
`usergroups.list`), local time zone fields included.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from bot.sandbox.slack.model import JsonDict

# Slack shows a long zone name ("Central European Summer Time"); zoneinfo only
# knows abbreviations, so the zones the sandbox uses are spelled out here.
_TZ_LABELS: dict[str, tuple[str, str]] = {
    "Europe/Berlin": ("Central European Time", "Central European Summer Time"),
    "Europe/London": ("Greenwich Mean Time", "British Summer Time"),
    "America/New_York": ("Eastern Standard Time", "Eastern Daylight Time"),
    "America/Los_Angeles": ("Pacific Standard Time", "Pacific Daylight Time"),
    "Pacific/Auckland": ("New Zealand Standard Time", "New Zealand Daylight Time"),
    "Pacific/Honolulu": ("Hawaii-Aleutian Standard Time", "Hawaii-Aleutian Daylight Time"),
    "Asia/Tokyo": ("Japan Standard Time", "Japan Daylight Time"),
    "UTC": ("Coordinated Universal Time", "Coordinated Universal Time"),
}


@dataclass
class User:
    id: str
    name: str  # the handle (`ana`), Slack's `name`
    real_name: str
    display_name: str
    tz: str = "UTC"
    is_bot: bool = False
    deleted: bool = False
    bot_id: str | None = None
    is_admin: bool = False
    is_owner: bool = False
    is_primary_owner: bool = False
    is_restricted: bool = False  # a guest
    is_ultra_restricted: bool = False  # a single-channel guest
    team_id: str | None = None  # a Slack Connect user's home team; None: the workspace's own
    # A Slack Connect user whose organisation keeps their profile: `users.info` and
    # `conversations.open` answer `user_not_found`, though they post in shared channels.
    hidden: bool = False

    def home_team(self, workspace_team_id: str) -> str:
        return self.team_id or workspace_team_id

    def tz_fields(self, at: datetime) -> JsonDict:
        local = at.astimezone(ZoneInfo(self.tz))
        offset = local.utcoffset()
        dst = local.dst()
        standard, daylight = _TZ_LABELS.get(self.tz, (local.tzname() or self.tz,) * 2)
        return {
            "tz": self.tz,
            "tz_label": daylight if dst else standard,
            "tz_offset": int(offset.total_seconds()) if offset is not None else 0,
        }

    def to_slack(self, team_id: str, at: datetime) -> JsonDict:
        home = self.home_team(team_id)
        profile: JsonDict = {
            "real_name": self.real_name,
            "display_name": self.display_name,
            "real_name_normalized": self.real_name,
            "display_name_normalized": self.display_name,
            "team": home,
        }
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        user: JsonDict = {
            "id": self.id,
            "team_id": home,
            "name": self.name,
            "real_name": self.real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": self.is_admin,
            "is_owner": self.is_owner,
            "is_primary_owner": self.is_primary_owner,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            **self.tz_fields(at),
            "profile": profile,
            "updated": int(at.timestamp()),
        }
        if home != team_id:
            # Slack adds `is_stranger` only for "a user belonging to a foreign workspace
            # party to a shared channel" (users.info reference).
            user["is_stranger"] = True
        return user


@dataclass
class UserGroup:
    id: str
    handle: str
    name: str
    description: str
    users: list[str]
    created: int

    def to_slack(self, team_id: str, *, include_users: bool, include_count: bool) -> JsonDict:
        group: JsonDict = {
            "id": self.id,
            "team_id": team_id,
            "is_usergroup": True,
            "is_subteam": True,
            "name": self.name,
            "description": self.description,
            "handle": self.handle,
            "is_external": False,
            "date_create": self.created,
            "date_update": self.created,
            "date_delete": 0,
            "auto_type": None,
            "created_by": "USLACKBOT",
            "updated_by": "USLACKBOT",
            "deleted_by": None,
            "prefs": {"channels": [], "groups": []},
        }
        if include_users:
            group["users"] = list(self.users)
        if include_count:
            group["user_count"] = len(self.users)
        return group
