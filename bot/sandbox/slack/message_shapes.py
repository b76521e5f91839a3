"""What people do with messages besides posting plainly, as Slack tells the app about it:
typing a link (the composer's `link_shared`, channel `COMPOSER`), editing and deleting
(`message_changed`, `message_deleted`), joining, other apps' posts, broadcast replies and
file shares. A mixin of the `Driver`, which supplies delivery and membership rules.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any
from urllib.parse import urlsplit

from bot.sandbox.slack.config import SimConfig
from bot.sandbox.slack.errors import SimUsageError
from bot.sandbox.slack.model import Channel, JsonDict, Message
from bot.sandbox.slack.people import User
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.transport import DeliveryResult

COMPOSER = "COMPOSER"  # the channel of a `link_shared` sent while a message is typed
URL = re.compile(r"https?://[^\s<>|]+")


class MessageShapes(ABC):
    _state: SlackState
    _config: SimConfig

    @abstractmethod
    async def send_event(
        self,
        event: JsonDict,
        *,
        event_id: str | None = None,
        retry_num: int = 0,
        retry_reason: str | None = None,
    ) -> DeliveryResult: ...

    @abstractmethod
    def _active_user(self, user_id: str) -> User: ...

    @abstractmethod
    def _channel_of_member(self, channel_id: str, user_id: str) -> Channel: ...

    def unfurlable(self, text: str) -> list[str]:
        """The links in `text` on the app's unfurl domains (Slack matches host names)."""
        domains = set(self._config.unfurl_domains)
        return [url for url in URL.findall(text) if hostname(url) in domains]

    async def type_in_composer(
        self, *, user_id: str, channel_id: str, text: str
    ) -> DeliveryResult | None:
        """A person is still typing `text` (not sent): Slack offers its links on the app's
        unfurl domains for a preview, from the composer — channel `COMPOSER`, no message ts,
        an `unfurl_id` to answer with. None when there is no such link."""
        self._active_user(user_id)
        self._channel_of_member(channel_id, user_id)
        urls = self.unfurlable(text)
        if not urls:
            return None
        draft = f"{user_id}-{self._state.random_token(32).lower()}"
        event: JsonDict = {
            "type": "link_shared",
            "channel": COMPOSER,
            "is_bot_user_member": False,
            "user": user_id,
            "message_ts": draft,  # Slack puts the unfurl_id here too
            "unfurl_id": draft,
            "source": "composer",
            "links": [{"domain": urlsplit(url).hostname, "url": url} for url in urls],
        }
        return await self.send_event(event)

    async def edit_user_message(
        self, *, user_id: str, channel_id: str, ts: str, text: str
    ) -> DeliveryResult | None:
        """A person edits their message: `message` subtype `message_changed` (the new message
        nested under `message`, the old under `previous_message`), if the bot is in there."""
        channel = self._channel_of_member(channel_id, user_id)
        message = self._state.find_message(channel.id, ts)
        if message is None or message.user != user_id:
            raise SimUsageError(f"{user_id} has no message {ts} in {channel_id}")
        before = {"type": "message", "user": user_id, "text": message.text, "ts": ts}
        self._state.edit(message, text=text)
        return await self._message_subtype(
            channel,
            "message_changed",
            message={**before, "text": text, "edited": {"user": user_id, "ts": self._now()}},
            previous_message=before,
            hidden=True,
        )

    async def delete_user_message(
        self, *, user_id: str, channel_id: str, ts: str
    ) -> DeliveryResult | None:
        """A person deletes their message: subtype `message_deleted` (`deleted_ts`)."""
        channel = self._channel_of_member(channel_id, user_id)
        message = self._state.find_message(channel.id, ts)
        if message is None or message.user != user_id:
            raise SimUsageError(f"{user_id} has no message {ts} in {channel_id}")
        previous = {"type": "message", "user": user_id, "text": message.text, "ts": ts}
        self._state.delete(message)
        return await self._message_subtype(
            channel, "message_deleted", deleted_ts=ts, previous_message=previous, hidden=True
        )

    async def post_with_subtype(
        self,
        *,
        user_id: str,
        channel_id: str,
        subtype: str,
        text: str = "",
        thread_ts: str | None = None,
    ) -> tuple[Message, DeliveryResult | None]:
        """A message of another shape: `bot_message` (another app posts; `user_id` is its bot
        user), `thread_broadcast` (a reply also sent to the channel), `file_share` (a file
        with `text` as its comment), `channel_join` (someone joins)."""
        channel = self._channel_of_member(channel_id, user_id)
        user = self._state.users.get(user_id)
        if subtype == "channel_join":
            text = f"<@{user_id}> has joined the channel"
        message = self._state.post(
            channel, user=user_id, text=text, thread_ts=thread_ts, source="user"
        )
        fields: JsonDict = {"text": text, "ts": message.ts, "user": user_id}
        if subtype == "bot_message" and user is not None and user.bot_id:
            fields |= {"bot_id": user.bot_id, "username": user.name}
        if thread_ts is not None:
            fields["thread_ts"] = thread_ts
        if subtype == "file_share":
            fields["files"] = [{"id": self._state.new_id("F"), "name": "batch.csv"}]
        return message, await self._message_subtype(channel, subtype, **fields)

    async def _message_subtype(
        self, channel: Channel, subtype: str, **fields: Any
    ) -> DeliveryResult | None:
        """The `message` event of `subtype`, if the bot is in `channel` to hear it."""
        if self._state.bot_user_id not in channel.members:
            return None
        event: JsonDict = {
            "type": "message",
            "subtype": subtype,
            "channel": channel.id,
            "channel_type": channel_type(channel),
            "team": self._state.team_id,
            "event_ts": self._now(),
            **fields,
        }
        return await self.send_event(event)

    def _now(self) -> str:
        return self._state.next_ts()


def hostname(url: str) -> str | None:
    try:
        return urlsplit(url).hostname
    except ValueError:  # `http://[…` without its closing bracket: Slack just does not unfurl it
        return None


def channel_type(channel: Channel) -> str:
    return {"public": "channel", "private": "group", "im": "im", "mpim": "mpim"}[channel.kind]
