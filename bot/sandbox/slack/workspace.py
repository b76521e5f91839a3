"""The simulated workspace's records and the primitive writes on them: ids and message
timestamps, the directory (users, groups, channels, DMs), messages with their threads
and edits, and ephemeral messages.

No HTTP here. The Web API layer decides *whether* Slack would allow a call; this
layer records *what happened* once it was allowed. `state.py` builds on it with
interactivity (views, triggers, response URLs, unfurls, deliveries) and the
questions tests ask; every record container is created here so a workspace is
whole from the start.
"""

from __future__ import annotations

import itertools
import random
import string
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from bot.sandbox.slack.feed import ChangeFeed
from bot.sandbox.slack.interactions import (
    Delivery,
    ResponsePost,
    ResponseUrl,
    Trigger,
    Unfurl,
    View,
)
from bot.sandbox.slack.model import (
    Channel,
    Edit,
    Ephemeral,
    EphemeralSource,
    JsonDict,
    Message,
    MessageSource,
)
from bot.sandbox.slack.people import User, UserGroup

_ID_ALPHABET = string.ascii_uppercase + string.digits


class Workspace:
    def __init__(
        self,
        *,
        team_id: str = "T0SANDBOX",
        team_name: str = "OpenTrain Sandbox",
        team_domain: str = "opentrain-sandbox",
        bot_user_id: str = "U0BOT",
        bot_id: str = "B0BOT",
        app_id: str = "A0SANDBOX",
        bot_name: str = "OpenTrain Co-sign",
        clock: Callable[[], float] = time.time,
        seed: str = "demo",
    ) -> None:
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.clock = clock
        self.team_url = f"https://{team_domain}.slack.com"
        # Where `chat.getPermalink` points: Slack's shape on this base. `SlackSim` points it at
        # its own origin once it serves, where the viewer opens the message.
        self.permalink_base = self.team_url

        self.users: dict[str, User] = {}
        self.usergroups: dict[str, UserGroup] = {}
        self.channels: dict[str, Channel] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, View] = {}
        self.home_views: dict[str, str] = {}  # user id → view id
        self.triggers: dict[str, Trigger] = {}
        self.response_urls: dict[str, ResponseUrl] = {}
        self.response_posts: list[ResponsePost] = []
        self.link_offers: set[tuple[str, str, str]] = set()  # (channel, message ts, url)
        # unfurl_id → (channel, message ts): `chat.unfurl` may name an offer by its unfurl_id
        self.unfurl_ids: dict[str, tuple[str, str]] = {}
        self.unfurls: list[Unfurl] = []
        self.deliveries: list[Delivery] = []
        self.api_calls: Counter[str] = Counter()
        self.rate_limited = 0  # every HTTP 429 served, limiter or fault
        self.feed = ChangeFeed()

        self._last_ts_us = 0
        self._ids = itertools.count(1)
        # Seeded so ids, hashes and generated block_ids repeat from run to run.
        self._rng = random.Random(seed)

    # ---- identifiers -------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def next_ts(self) -> str:
        """A message timestamp, unique and increasing within the workspace like Slack's."""
        us = max(int(self.clock() * 1_000_000), self._last_ts_us + 1)
        self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0SIM{next(self._ids):05d}"

    def random_token(self, length: int) -> str:
        return "".join(self._rng.choice(_ID_ALPHABET) for _ in range(length))

    def new_block_id(self) -> str:
        return self.random_token(5)

    def new_hash(self) -> str:
        return f"{int(self.clock())}.{self._rng.getrandbits(32):08x}"

    # ---- directory ---------------------------------------------------------------------

    def add_user(self, user: User) -> User:
        self.users[user.id] = user
        self.feed.bump("user", user=user.id)
        return user

    def add_usergroup(self, group: UserGroup) -> UserGroup:
        self.usergroups[group.id] = group
        self.feed.bump("usergroup", usergroup=group.id)
        return group

    def add_channel(self, channel: Channel) -> Channel:
        self.channels[channel.id] = channel
        self.feed.bump("channel", channel=channel.id)
        return channel

    def channel_named(self, name: str) -> Channel | None:
        name = name.removeprefix("#")
        for channel in self.channels.values():
            if channel.kind != "im" and channel.name == name:
                return channel
        return None

    def dm_channel(self, user_id: str) -> Channel | None:
        for channel in self.channels.values():
            if channel.kind == "im" and channel.im_user == user_id:
                return channel
        return None

    @staticmethod
    def dm_id(user_id: str) -> str:
        """The id the bot's DM with `user_id` gets (U0ANA → D0ANA), stable across runs."""
        return f"D{user_id[1:]}"

    def open_dm(self, user_id: str) -> tuple[Channel, bool]:
        """The bot's DM with `user_id`, created on first use; also says whether it existed."""
        existing = self.dm_channel(user_id)
        if existing is not None:
            return existing, True
        channel = Channel(
            id=self.dm_id(user_id),
            name=user_id,
            kind="im",
            members={user_id, self.bot_user_id},
            created=int(self.clock()),
            im_user=user_id,
        )
        return self.add_channel(channel), False

    def open_mpim(self, user_ids: list[str]) -> tuple[Channel, bool]:
        members = {*user_ids, self.bot_user_id}
        for channel in self.channels.values():
            if channel.kind == "mpim" and channel.members == members:
                return channel, True
        names = sorted(self.users[u].name for u in user_ids if u in self.users)
        channel = Channel(
            id=self.new_id("G"),
            name="mpdm-" + "--".join(names) + "-1",
            kind="mpim",
            members=members,
            created=int(self.clock()),
        )
        return self.add_channel(channel), False

    # ---- messages ----------------------------------------------------------------------

    def find_message(self, channel_id: str, ts: str) -> Message | None:
        channel = self.channels.get(channel_id)
        if channel is None:
            return None
        message = channel.index.get(ts)
        return None if message is None or message.deleted else message

    def post(
        self,
        channel: Channel,
        *,
        user: str,
        text: str,
        blocks: list[JsonDict] | None = None,
        metadata: JsonDict | None = None,
        attachments: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        reply_broadcast: bool = False,
        source: MessageSource = "api",
    ) -> Message:
        """Record a message; `user == bot_user_id` makes it the bot's (with `bot_id`)."""
        by_bot = user == self.bot_user_id
        message = Message(
            channel=channel.id,
            ts=self.next_ts(),
            user=user,
            text=text,
            blocks=blocks or [],
            bot_id=self.bot_id if by_bot else None,
            app_id=self.app_id if by_bot else None,
            metadata=metadata,
            attachments=attachments or [],
            source=source,
        )
        parent = channel.index.get(thread_ts) if thread_ts else None
        if parent is not None:
            if parent.is_reply and parent.thread_ts is not None:
                # Slack files a reply-to-a-reply under the thread's parent.
                parent = channel.index[parent.thread_ts]
            parent.thread_ts = parent.ts
            parent.replies.append(message)
            message.thread_ts = parent.ts
            message.parent_user = parent.user
            message.reply_broadcast = reply_broadcast
            if reply_broadcast:
                channel.messages.append(message)
        else:
            channel.messages.append(message)
        channel.index[message.ts] = message
        self.feed.bump("message", channel=channel.id, ts=message.ts, thread_ts=message.thread_ts)
        return message

    def edit(
        self,
        message: Message,
        *,
        text: str | None = None,
        blocks: list[JsonDict] | None = None,
        metadata: JsonDict | None = None,
        attachments: list[JsonDict] | None = None,
    ) -> Message:
        """Replace the given parts of a message, keeping its previous version in `edits`."""
        message.edits.append(
            Edit(
                text=message.text,
                blocks=message.blocks,
                metadata=message.metadata,
                replaced_at=self.next_ts(),
            )
        )
        if text is not None:
            message.text = text
        if blocks is not None:
            message.blocks = blocks
        if metadata is not None:
            message.metadata = metadata
        if attachments is not None:
            message.attachments = attachments
        self.feed.bump("message_changed", channel=message.channel, ts=message.ts)
        return message

    def add_reaction(self, message: Message, name: str, *, user: str) -> None:
        message.reactions.setdefault(name, []).append(user)
        self.feed.bump("reaction_added", channel=message.channel, ts=message.ts, name=name)

    def delete(self, message: Message) -> None:
        message.deleted = True
        self.feed.bump("message_deleted", channel=message.channel, ts=message.ts)

    def post_ephemeral(
        self,
        channel_id: str,
        *,
        user: str,
        text: str,
        blocks: list[JsonDict] | None = None,
        thread_ts: str | None = None,
        source: EphemeralSource = "api",
    ) -> Ephemeral:
        ephemeral = Ephemeral(
            channel=channel_id,
            user=user,
            ts=self.next_ts(),
            text=text,
            blocks=blocks or [],
            thread_ts=thread_ts,
            source=source,
        )
        self.ephemerals.append(ephemeral)
        self.feed.bump("ephemeral", channel=channel_id, user=user, ts=ephemeral.ts)
        return ephemeral

    def find_ephemeral(self, user: str, ts: str) -> Ephemeral | None:
        for ephemeral in self.ephemerals:
            if ephemeral.user == user and ephemeral.ts == ts and not ephemeral.deleted:
                return ephemeral
        return None

    def replace_ephemeral(
        self, ephemeral: Ephemeral, *, text: str, blocks: list[JsonDict] | None
    ) -> None:
        ephemeral.text = text
        ephemeral.blocks = blocks or []
        ephemeral.replaced += 1
        self.feed.bump("ephemeral_changed", user=ephemeral.user, ts=ephemeral.ts)

    def delete_ephemeral(self, ephemeral: Ephemeral) -> None:
        ephemeral.deleted = True
        self.feed.bump("ephemeral_deleted", user=ephemeral.user, ts=ephemeral.ts)
