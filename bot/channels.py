"""Whether the bot can post in a channel — one membership rule for routing, doctor and notifier.

The bot is a member of every channel it posts in: it reads the channel back
(`conversations.history`, which Slack allows members only) to find a post whose
answer was lost, and it only hears pasted approval links where it is a member.
So a public channel it is not in is joined (`conversations.join`, scope
`channels:join`) before anything is posted there; a private channel it is not in
is invisible to it and refused up front, naming who can fix it (`/invite`); an
archived channel is refused; a DM needs no membership.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.logs import log_kv

log = logging.getLogger(__name__)

INVITE = "/invite @OpenTrain co-sign"


class Access(StrEnum):
    MEMBER = "member"  # posts and reads back work
    JOINABLE = "joinable"  # public, not joined yet: the bot joins before posting
    DIRECT = "direct"  # a DM or group DM with the bot
    REFUSED = "refused"  # nothing can be posted there; `problem` says why


@dataclass(frozen=True)
class ChannelCheck:
    channel_id: str
    access: Access
    name: str | None = None  # "hiring", when Slack told us
    error: str | None = None  # Slack's error code behind a refusal (`channel_not_found`, …)
    problem: str | None = None  # the refusal in words, with who can fix it

    @property
    def shown(self) -> str:
        return f"#{self.name}" if self.name else self.channel_id

    @property
    def usable(self) -> bool:
        return self.access is not Access.REFUSED


def judge(channel_id: str, info: dict[str, Any] | None, error: str | None = None) -> ChannelCheck:
    """The rule, from `conversations.info`'s `channel` (or the error it answered)."""
    if info is None:
        if error == "channel_not_found":
            return ChannelCheck(
                channel_id,
                Access.REFUSED,
                error=error,
                problem="I cannot see that channel: it does not exist, or it is private and I "
                f"am not a member. In a private channel, someone in it must invite me: {INVITE}.",
            )
        return ChannelCheck(
            channel_id,
            Access.REFUSED,
            error=error or "unknown_error",
            problem=f"Slack would not tell me about that channel ({error}).",
        )
    name = info.get("name")
    shown = f"#{name}" if name else "That channel"
    if info.get("is_im") or info.get("is_mpim"):
        return ChannelCheck(channel_id, Access.DIRECT, name)
    if info.get("is_archived"):
        return ChannelCheck(
            channel_id,
            Access.REFUSED,
            name,
            "is_archived",
            f"{shown} is archived, so no card can be posted there.",
        )
    if info.get("is_member"):
        return ChannelCheck(channel_id, Access.MEMBER, name)
    if info.get("is_private"):
        return ChannelCheck(
            channel_id,
            Access.REFUSED,
            name,
            "not_in_channel",
            f"{shown} is private and I am not in it. Someone in it must invite me: {INVITE}.",
        )
    return ChannelCheck(channel_id, Access.JOINABLE, name)


class Channels:
    """Checks channels against the rule and joins public ones; remembers what it joined."""

    def __init__(self, slack: AsyncWebClient) -> None:
        self._slack = slack
        self._ready: set[str] = set()  # channels this process found (or made) usable

    async def check(self, channel_id: str) -> ChannelCheck:
        """What the rule says of `channel_id` now (reads; joins nothing)."""
        try:
            response = await self._slack.conversations_info(channel=channel_id)
        except SlackApiError as exc:
            return judge(channel_id, None, str(exc.response.get("error", "unknown_error")))
        return judge(channel_id, response.get("channel") or {})

    async def prepare(self, channel_id: str) -> ChannelCheck:
        """Make `channel_id` ready for posts: join it if it is public and not joined yet.

        A refusal comes back as a check with its `problem`; Slack failing to answer
        raises. Usable channels are remembered for the life of the process (`forget`
        when Slack says otherwise).
        """
        if channel_id in self._ready:
            return ChannelCheck(channel_id, Access.MEMBER)
        check = await self.check(channel_id)
        if check.access is Access.JOINABLE:
            try:
                await self.join(channel_id)
            except SlackApiError as exc:
                if exc.response.get("error") != "missing_scope":
                    raise
                # An install from before `channels:join`: posting still works (chat:write.public),
                # only a lost answer cannot be looked up there. Doctor names the missing scope.
                log.warning("cannot join channel: missing_scope %s", log_kv(channel=channel_id))
                return check
            check = ChannelCheck(channel_id, Access.MEMBER, check.name)
        if check.usable:
            self._ready.add(channel_id)
        return check

    async def join(self, channel_id: str) -> None:
        """`conversations.join`; Slack's refusal (`is_archived`, …) is raised as is."""
        await self._slack.conversations_join(channel=channel_id)
        self._ready.add(channel_id)
        log.info("joined channel %s", log_kv(channel=channel_id))

    def forget(self, channel_id: str) -> None:
        """Slack said we are not in `channel_id` (removed since): check it again next time."""
        self._ready.discard(channel_id)
