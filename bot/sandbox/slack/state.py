"""The simulated workspace: users, channels, messages, views and everything the bot did.

No HTTP here. The Web API layer decides *whether* Slack would allow a call;
this module records *what happened* once it was allowed, and answers the
questions tests ask ("what is in #general?", "what did Ana see?").
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
from bot.sandbox.slack.model import (
    Channel,
    Delivery,
    Edit,
    Ephemeral,
    EphemeralSource,
    JsonDict,
    Message,
    MessageSource,
    ResponsePost,
    ResponseUrl,
    ResponseUrlKind,
    Trigger,
    Unfurl,
    User,
    UserGroup,
    View,
    ViewType,
)

_ID_ALPHABET = string.ascii_uppercase + string.digits


class SlackState:
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
        self.permalink_base = f"https://{team_domain}.slack.com"

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

    # ---- interactivity -----------------------------------------------------------------

    def issue_trigger(self, user_id: str) -> Trigger:
        trigger = Trigger(
            id=f"{int(self.clock())}.{next(self._ids)}.{self._rng.getrandbits(64):016x}",
            user_id=user_id,
            issued_at=self.clock(),
        )
        self.triggers[trigger.id] = trigger
        return trigger

    def issue_response_url(
        self,
        kind: ResponseUrlKind,
        *,
        user_id: str,
        channel_id: str,
        message_ts: str | None = None,
        ephemeral_ts: str | None = None,
    ) -> ResponseUrl:
        response_url = ResponseUrl(
            id=f"{next(self._ids)}{self.random_token(16)}",
            kind=kind,
            user_id=user_id,
            channel_id=channel_id,
            issued_at=self.clock(),
            message_ts=message_ts,
            ephemeral_ts=ephemeral_ts,
        )
        self.response_urls[response_url.id] = response_url
        return response_url

    def record_response_post(self, post: ResponsePost) -> None:
        self.response_posts.append(post)
        self.feed.bump("response_url_post", channel=post.channel_id, effect=post.effect)

    def open_view(
        self, user_id: str, view_type: ViewType, content: JsonDict, *, on_top_of: View | None
    ) -> View:
        view_id = self.new_id("V")
        view = View(
            id=view_id,
            user_id=user_id,
            type=view_type,
            content=content,
            hash=self.new_hash(),
            root_view_id=on_top_of.root_view_id if on_top_of else view_id,
            previous_view_id=on_top_of.id if on_top_of else None,
        )
        self.views[view.id] = view
        if view_type == "home":
            self.home_views[user_id] = view.id
        self.feed.bump("view_opened", view=view.id, user=user_id)
        return view

    def replace_view(self, view: View, content: JsonDict) -> View:
        view.content = content
        view.hash = self.new_hash()
        view.errors = None
        view.state_values = {}
        self.feed.bump("view_updated", view=view.id, user=view.user_id)
        return view

    def close_view(self, view: View) -> None:
        view.closed = True
        self.feed.bump("view_closed", view=view.id, user=view.user_id)

    def modal_stack(self, user_id: str) -> list[View]:
        """The user's open modals, bottom first (Slack allows three)."""
        return [
            view
            for view in self.views.values()
            if view.user_id == user_id and view.type == "modal" and not view.closed
        ]

    def view_by_external_id(self, external_id: str) -> View | None:
        for view in self.views.values():
            if view.external_id == external_id and not view.closed:
                return view
        return None

    def home_view(self, user_id: str) -> View | None:
        view_id = self.home_views.get(user_id)
        return self.views.get(view_id) if view_id else None

    def offer_links(
        self, channel_id: str, message_ts: str, urls: list[str], unfurl_id: str | None = None
    ) -> None:
        for url in urls:
            self.link_offers.add((channel_id, message_ts, url))
        if unfurl_id:
            self.unfurl_ids[unfurl_id] = (channel_id, message_ts)

    def record_unfurl(self, unfurl: Unfurl) -> None:
        self.unfurls.append(unfurl)
        message = self.find_message(unfurl.channel, unfurl.ts)
        if message is not None:
            message.unfurls[unfurl.url] = unfurl.unfurl
        self.feed.bump("unfurl", channel=unfurl.channel, ts=unfurl.ts)

    def record_delivery(self, delivery: Delivery) -> Delivery:
        self.deliveries.append(delivery)
        self.feed.bump("delivery", delivery=delivery.kind, status=delivery.status)
        return delivery

    def next_delivery_id(self) -> int:
        return len(self.deliveries) + 1

    # ---- questions tests ask -----------------------------------------------------------

    def messages(self, channel_id: str) -> list[Message]:
        """Top-level messages in a channel (thread broadcasts included), oldest first."""
        channel = self.channels.get(channel_id)
        return [m for m in channel.messages if not m.deleted] if channel else []

    def replies(self, channel_id: str, ts: str) -> list[Message]:
        """The replies in the thread under `ts`, oldest first (the parent excluded)."""
        parent = self.find_message(channel_id, ts)
        return parent.live_replies() if parent else []

    def dms(self, user_id: str) -> list[Message]:
        """Messages in the bot's DM with `user_id`."""
        channel = self.dm_channel(user_id)
        return self.messages(channel.id) if channel else []

    def ephemerals_for(self, user_id: str) -> list[Ephemeral]:
        return [e for e in self.ephemerals if e.user == user_id and not e.deleted]

    def open_views(self, user_id: str | None = None) -> list[View]:
        return [
            view
            for view in self.views.values()
            if view.type == "modal" and not view.closed and user_id in (None, view.user_id)
        ]

    def snapshot(self) -> JsonDict:
        """Everything recorded, as `GET /_sim/state` shows it."""
        now = self.now()

        def channel_record(channel: Channel) -> JsonDict:
            return {
                "id": channel.id,
                "name": channel.name,
                "kind": channel.kind,
                "is_archived": channel.is_archived,
                "bot_is_member": self.bot_user_id in channel.members,
                "members": sorted(channel.members),
                "user": channel.im_user,
                "messages": [m.record() for m in channel.messages if not m.is_reply],
            }

        view_kw = {"team_id": self.team_id, "app_id": self.app_id, "bot_id": self.bot_id}
        return {
            "seq": self.feed.seq,
            "team": {"id": self.team_id, "name": self.team_name, "domain": self.team_domain},
            "bot": {"user_id": self.bot_user_id, "bot_id": self.bot_id, "app_id": self.app_id},
            "users": [u.to_slack(self.team_id, now) for u in self.users.values()],
            "usergroups": [
                g.to_slack(self.team_id, include_users=True, include_count=True)
                for g in self.usergroups.values()
            ],
            "channels": [channel_record(c) for c in self.channels.values() if c.kind != "im"],
            "dms": [channel_record(c) for c in self.channels.values() if c.kind == "im"],
            "ephemerals": [e.record() for e in self.ephemerals],
            "response_url_posts": [p.record() for p in self.response_posts],
            "views": [
                {**v.to_slack(**view_kw), "user_id": v.user_id, "errors": v.errors}
                for v in self.open_views()
            ],
            "home_views": {
                user: self.views[view_id].to_slack(**view_kw)
                for user, view_id in self.home_views.items()
            },
            "unfurls": [u.record() for u in self.unfurls],
            "deliveries": [d.record() for d in self.deliveries],
            "stats": {
                "api_calls": dict(self.api_calls),
                "rate_limited": self.rate_limited,
                "deliveries": len(self.deliveries),
            },
        }
