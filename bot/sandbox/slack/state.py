"""The simulated workspace as tests and the simulator see it: the records and writes of
`workspace.py`, plus interactivity — triggers, response URLs, views, link offers and
unfurls, deliveries to the app — and the questions tests ask ("what is in #general?",
"what did Ana see?"), down to the `GET /_sim/state` snapshot.

No HTTP here: the Web API layer decides *whether* Slack would allow a call.
"""

from __future__ import annotations

from bot.sandbox.slack.interactions import (
    Delivery,
    ResponsePost,
    ResponseUrl,
    ResponseUrlKind,
    Trigger,
    Unfurl,
    View,
    ViewType,
)
from bot.sandbox.slack.model import Channel, Ephemeral, JsonDict, Message
from bot.sandbox.slack.workspace import Workspace


class SlackState(Workspace):
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
        self.feed.bump("response_url_post", channel=post.channel_id, outcome=post.outcome)

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
        """The app's new content for a view. Like Slack, what the person entered stays in the
        inputs whose block_id and action_id the new content keeps."""
        kept = {
            str(block.get("block_id")): str((block.get("element") or {}).get("action_id"))
            for block in content.get("blocks", [])
            if block.get("type") == "input"
        }
        view.content = content
        view.hash = self.new_hash()
        view.errors = None
        view.state_values = {
            block_id: entered
            for block_id, entered in view.state_values.items()
            if block_id in kept and kept[block_id] in entered
        }
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
