"""The records a simulated workspace keeps, and how each one looks in Slack's JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

JsonDict = dict[str, Any]

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


@dataclass
class Edit:
    """A message as it was before one `chat.update` (or `replace_original`)."""

    text: str
    blocks: list[JsonDict]
    metadata: JsonDict | None
    replaced_at: str  # the ts of the edit


MessageSource = Literal["api", "response_url", "command_response", "user"]


@dataclass
class Message:
    channel: str
    ts: str
    user: str  # the author; for the bot, its bot user id
    text: str
    blocks: list[JsonDict] = field(default_factory=list)
    bot_id: str | None = None
    app_id: str | None = None
    metadata: JsonDict | None = None
    attachments: list[JsonDict] = field(default_factory=list)
    thread_ts: str | None = None  # set on replies, and on a parent once it has replies
    parent_user: str | None = None  # on replies: who wrote the thread's parent
    reply_broadcast: bool = False
    replies: list[Message] = field(default_factory=list)
    edits: list[Edit] = field(default_factory=list)
    deleted: bool = False
    unfurls: dict[str, JsonDict] = field(default_factory=dict)
    source: MessageSource = "api"

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def live_replies(self) -> list[Message]:
        return [reply for reply in self.replies if not reply.deleted]

    def to_slack(self, team_id: str, *, bot_name: str, include_metadata: bool) -> JsonDict:
        """The message as `conversations.history`/`replies` and `chat.*` responses show it."""
        message: JsonDict = {"type": "message", "user": self.user, "text": self.text}
        if self.blocks:
            message["blocks"] = self.blocks
        if self.attachments:
            message["attachments"] = self.attachments
        if self.bot_id:
            message["bot_id"] = self.bot_id
            message["app_id"] = self.app_id
            message["bot_profile"] = {
                "id": self.bot_id,
                "app_id": self.app_id,
                "name": bot_name,
                "team_id": team_id,
                "deleted": False,
            }
        message["ts"] = self.ts
        message["team"] = team_id
        if self.edits:
            message["edited"] = {"user": self.user, "ts": self.edits[-1].replaced_at}
        if self.thread_ts is not None:
            message["thread_ts"] = self.thread_ts
        if self.parent_user is not None:
            message["parent_user_id"] = self.parent_user
        live = self.live_replies()
        if live:
            message["reply_count"] = len(live)
            message["reply_users_count"] = len({r.user for r in live})
            message["reply_users"] = sorted({r.user for r in live})
            message["latest_reply"] = live[-1].ts
        if self.reply_broadcast:
            message["subtype"] = "thread_broadcast"
        if include_metadata and self.metadata is not None:
            message["metadata"] = self.metadata
        return message

    def record(self) -> JsonDict:
        """The message as `/_sim/state` shows it: everything a test or viewer asserts on."""
        return {
            "ts": self.ts,
            "user": self.user,
            "bot_id": self.bot_id,
            "text": self.text,
            "blocks": self.blocks,
            "metadata": self.metadata,
            "thread_ts": self.thread_ts,
            "reply_broadcast": self.reply_broadcast,
            "edits": len(self.edits),
            "deleted": self.deleted,
            "unfurls": self.unfurls,
            "source": self.source,
            "replies": [reply.record() for reply in self.replies],
        }


ChannelKind = Literal["public", "private", "im", "mpim"]


@dataclass
class Channel:
    id: str
    name: str
    kind: ChannelKind
    members: set[str]
    created: int
    creator: str = "USLACKBOT"
    is_archived: bool = False
    is_general: bool = False
    im_user: str | None = None  # the human side of a DM
    topic: str = ""
    purpose: str = ""
    shared_with: tuple[str, ...] = ()  # other organisations' teams (Slack Connect)
    messages: list[Message] = field(default_factory=list)  # top level, oldest first
    index: dict[str, Message] = field(default_factory=dict)  # every message by ts

    @property
    def is_private(self) -> bool:
        return self.kind != "public"

    @property
    def is_conversation_between_people(self) -> bool:
        return self.kind in ("im", "mpim")

    def to_slack(self, bot_user_id: str, *, team_id: str, include_num_members: bool) -> JsonDict:
        if self.kind == "im":
            return {
                "id": self.id,
                "created": self.created,
                "is_im": True,
                "is_org_shared": False,
                "user": self.im_user,
                "is_user_deleted": False,
                "priority": 0,
            }
        channel: JsonDict = {
            "id": self.id,
            "name": self.name,
            "is_channel": self.kind == "public",
            "is_group": self.kind == "private",
            "is_im": False,
            "is_mpim": self.kind == "mpim",
            "is_private": self.is_private,
            "created": self.created,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "unlinked": 0,
            "name_normalized": self.name,
            "is_shared": bool(self.shared_with),
            "is_org_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "context_team_id": team_id,
            "creator": self.creator,
            "is_ext_shared": bool(self.shared_with),
            # The workspace's own team, as in Slack's conversation object example; which other
            # teams Slack lists here for a Slack Connect channel is not documented.
            "shared_team_ids": [team_id],
            "is_member": bot_user_id in self.members,
            "topic": {"value": self.topic, "creator": "", "last_set": 0},
            "purpose": {"value": self.purpose, "creator": "", "last_set": 0},
            "previous_names": [],
        }
        if include_num_members:
            channel["num_members"] = len(self.members)
        return channel


EphemeralSource = Literal["api", "response_url", "command_response", "slack"]


@dataclass
class Ephemeral:
    """A message only `user` sees; Slack never stores it, the simulator does for assertions."""

    channel: str
    user: str
    ts: str
    text: str
    blocks: list[JsonDict] = field(default_factory=list)
    thread_ts: str | None = None
    source: EphemeralSource = "api"
    replaced: int = 0
    deleted: bool = False

    def record(self) -> JsonDict:
        return {
            "channel": self.channel,
            "user": self.user,
            "ts": self.ts,
            "text": self.text,
            "blocks": self.blocks,
            "thread_ts": self.thread_ts,
            "source": self.source,
            "replaced": self.replaced,
            "deleted": self.deleted,
        }


ViewType = Literal["modal", "home"]

# The parts of a view payload an app supplies; everything else is Slack's.
VIEW_FIELDS = (
    "title",
    "submit",
    "close",
    "blocks",
    "private_metadata",
    "callback_id",
    "external_id",
    "clear_on_close",
    "notify_on_close",
    "submit_disabled",
)


@dataclass
class View:
    id: str
    user_id: str
    type: ViewType
    content: JsonDict  # the app-supplied fields (VIEW_FIELDS)
    hash: str
    root_view_id: str
    previous_view_id: str | None = None
    state_values: JsonDict = field(default_factory=dict)
    closed: bool = False
    errors: JsonDict | None = None  # the last `response_action: errors` shown on it

    @property
    def external_id(self) -> str:
        return str(self.content.get("external_id") or "")

    def to_slack(self, *, team_id: str, app_id: str, bot_id: str) -> JsonDict:
        content = self.content
        return {
            "id": self.id,
            "team_id": team_id,
            "type": self.type,
            "title": content.get("title"),
            "submit": content.get("submit"),
            "close": content.get("close"),
            "blocks": content.get("blocks", []),
            "private_metadata": content.get("private_metadata", ""),
            "callback_id": content.get("callback_id", ""),
            "external_id": self.external_id,
            "state": {"values": self.state_values},
            "hash": self.hash,
            "clear_on_close": bool(content.get("clear_on_close", False)),
            "notify_on_close": bool(content.get("notify_on_close", False)),
            "root_view_id": self.root_view_id,
            "previous_view_id": self.previous_view_id,
            "app_id": app_id,
            "app_installed_team_id": team_id,
            "bot_id": bot_id,
        }


@dataclass
class Trigger:
    id: str
    user_id: str
    issued_at: float  # epoch seconds; tests move it back instead of sleeping
    exchanged: bool = False


ResponseUrlKind = Literal["command", "block_actions"]


@dataclass
class ResponseUrl:
    """Where an app may answer one interaction: up to five times within thirty minutes."""

    id: str
    kind: ResponseUrlKind
    user_id: str
    channel_id: str
    issued_at: float
    message_ts: str | None = None  # the message whose button was clicked
    ephemeral_ts: str | None = None  # … when that message was an ephemeral one
    uses: int = 0


@dataclass
class ResponsePost:
    response_url: str
    kind: ResponseUrlKind
    user_id: str
    channel_id: str
    body: JsonDict
    effect: str  # "ephemeral" | "posted" | "replaced" | "deleted"
    ts: str | None

    def record(self) -> JsonDict:
        return {
            "response_url": self.response_url,
            "kind": self.kind,
            "user_id": self.user_id,
            "channel_id": self.channel_id,
            "response_type": self.body.get("response_type"),
            "replace_original": self.body.get("replace_original"),
            "delete_original": self.body.get("delete_original"),
            "text": self.body.get("text"),
            "blocks": self.body.get("blocks"),
            "effect": self.effect,
            "ts": self.ts,
        }


@dataclass
class Unfurl:
    channel: str
    ts: str
    url: str
    unfurl: JsonDict

    def record(self) -> JsonDict:
        return {"channel": self.channel, "ts": self.ts, "url": self.url, "unfurl": self.unfurl}


@dataclass
class Delivery:
    """One request the simulator sent to the bot, and what came back."""

    id: int
    kind: str  # "command" | "block_actions" | "view_submission" | "event" | "url_verification"
    summary: str
    status: int | None
    body: Any
    elapsed_ms: float
    timed_out: bool
    error: str | None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    response_action: str | None = None

    def record(self) -> JsonDict:
        return {
            "id": self.id,
            "kind": self.kind,
            "summary": self.summary,
            "status": self.status,
            "body": self.body,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "timed_out": self.timed_out,
            "error": self.error,
            "at": self.at.isoformat(),
            "response_action": self.response_action,
        }
