"""The records of a simulated workspace's conversations — channels, the messages in
them (threads and edits included) and ephemeral messages — and how each one looks in
Slack's JSON. People are in `people.py`; views, response URLs, unfurls and
deliveries in `interactions.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

JsonDict = dict[str, Any]


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
    reactions: dict[str, list[str]] = field(default_factory=dict)  # name → users, first first
    source: MessageSource = "api"

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def live_replies(self) -> list[Message]:
        return [reply for reply in self.replies if not reply.deleted]

    def reactions_json(self) -> list[JsonDict]:
        """Slack's `reactions`: each name in the order it was first added, with its users."""
        return [
            {"name": name, "users": list(users), "count": len(users)}
            for name, users in self.reactions.items()
        ]

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
        if self.reactions:
            message["reactions"] = self.reactions_json()
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
            "reactions": self.reactions_json(),
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
