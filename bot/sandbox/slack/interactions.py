"""The records of what happens around a workspace's channels rather than in them: views
(modals and Home tabs), triggers, response URLs and the answers posted to them, link
unfurls, and the requests the simulator delivered to the app.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from bot.sandbox.slack.model import JsonDict

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
    outcome: str  # "ephemeral" | "posted" | "replaced" | "deleted"
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
            "outcome": self.outcome,
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
