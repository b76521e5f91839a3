"""Where a card goes: explicit channel → route for the job → route for the approval type → default.

Routes are stored (`/opentrain route …` manages them) under keys `job:<jobId>`
and `type:<approval type>`. A route is only accepted for a channel the bot can
post in (`channel_problem`), because a card that cannot land helps nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.approvals import AuditEntry
from bot.opentrain import ApprovalType
from bot.store import Store

ROUTE_TYPES = {
    "hire": ApprovalType.PROPOSAL_HIRE,
    "fund": ApprovalType.MILESTONE_FUND,
    "payout": ApprovalType.MILESTONE_APPROVE,
    "end": ApprovalType.CONTRACT_END,
}
INVITE = "/invite @OpenTrain co-sign"


def route_key(target: str) -> str:
    """`job_123` → `job:job_123`; `hire`/`proposal_hire` → `type:proposal_hire`."""
    if target in ROUTE_TYPES:
        return f"type:{ROUTE_TYPES[target].value}"
    if target in {t.value for t in ApprovalType if t is not ApprovalType.UNKNOWN}:
        return f"type:{target}"
    return f"job:{target}"


def describe_key(key: str) -> str:
    """`job:job_1` → "job job_1"; `type:milestone_fund` → "fund requests"."""
    kind, _, value = key.partition(":")
    if kind == "type":
        words = {t.value: word for word, t in ROUTE_TYPES.items()}
        return f"{words.get(value, value)} requests"
    return f"job {value}"


@dataclass(frozen=True)
class ChannelCheck:
    name: str | None  # "hiring", when Slack told us
    problem: str | None  # why cards cannot be posted there; None when they can


async def check_channel(slack: AsyncWebClient, channel_id: str) -> ChannelCheck:
    """Whether the bot can post cards in `channel_id`, explained in words when it cannot."""
    try:
        response = await slack.conversations_info(channel=channel_id)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown_error"))
        if error == "channel_not_found":
            return ChannelCheck(
                None,
                "I cannot see that channel: it does not exist, or it is private and I am not "
                f"a member. In a private channel, invite me first with {INVITE}.",
            )
        return ChannelCheck(None, f"Slack would not tell me about that channel ({error}).")
    channel = response.get("channel") or {}
    name = channel.get("name")
    shown = f"#{name}" if name else "That channel"
    if channel.get("is_archived"):
        return ChannelCheck(name, f"{shown} is archived, so no card can be posted there.")
    if channel.get("is_private") and not channel.get("is_member"):
        return ChannelCheck(name, f"{shown} is private and I am not in it. Invite me: {INVITE}.")
    # Public channels take our posts without membership (chat:write.public).
    return ChannelCheck(name, None)


class Router:
    def __init__(self, store: Store, default_channel: str | None) -> None:
        self._store = store
        self._default = default_channel

    async def resolve(
        self, *, explicit: str | None, job_id: str | None, approval_type: ApprovalType
    ) -> str | None:
        if explicit:
            return explicit
        if job_id:
            channel = await self._store.get_route(f"job:{job_id}")
            if channel:
                return channel
        channel = await self._store.get_route(f"type:{approval_type.value}")
        return channel or self._default

    async def set_route(self, key: str, channel_id: str, *, actor: str, at: datetime) -> None:
        await self._store.set_route(key, channel_id)
        await self._audit("route_set", actor, at, key=key, channel=channel_id)

    async def remove_route(self, key: str, *, actor: str, at: datetime) -> bool:
        removed = await self._store.delete_route(key)
        if removed:
            await self._audit("route_removed", actor, at, key=key)
        return removed

    async def routes(self) -> dict[str, str]:
        return await self._store.list_routes()

    async def _audit(self, action: str, actor: str, at: datetime, **details: object) -> None:
        await self._store.append_audit(
            AuditEntry(at=at, action=action, actor=actor, details=dict(details))
        )
