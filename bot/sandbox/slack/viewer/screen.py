"""What one person sees in the viewer: sidebar, conversation (or App Home), thread and modal.

Functions of the simulator's recorded state; the only thing a screen changes is what its
person has read. The page asks for a screen (`GET /viewer/screen`) whenever the change
sequence moves, and swaps in the panes whose HTML changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from bot.sandbox.slack.interactions import View
from bot.sandbox.slack.model import Channel, Ephemeral, Message
from bot.sandbox.slack.people import User
from bot.sandbox.slack.permalinks import MessageLink
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.viewer.blocks import Target, attachments_html, blocks_html
from bot.sandbox.slack.viewer.emoji import EMOJI
from bot.sandbox.slack.viewer.markup import Names, attr, clock_time, mrkdwn_html, plain_html
from bot.sandbox.slack.viewer.reads import ReadMarks, ts_order
from bot.sandbox.slack.viewer.sidebar import member_channels, people, sidebar_html

DEFAULT_USER = "U0ANA"
Tab = Literal["home", "messages"]


@dataclass(frozen=True)
class ScreenRequest:
    """Where the page is: the query of its URL (`?user=&channel=&thread=&tab=&message=`)."""

    user_id: str | None = None
    conversation_id: str | None = None
    thread_ts: str | None = None
    tab: str | None = None
    message_ts: str | None = None  # a message linked to: scrolled to and highlighted

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ScreenRequest:
        return cls(
            user_id=query.get("user") or None,
            conversation_id=query.get("channel") or None,
            thread_ts=query.get("thread") or None,
            tab=query.get("tab") or None,
            message_ts=query.get("message") or None,
        )

    @classmethod
    def for_link(cls, link: MessageLink, *, user_id: str | None) -> ScreenRequest:
        """The screen a permalink opens: its message, in its thread when it is a reply."""
        return cls(
            user_id=user_id,
            conversation_id=link.channel,
            thread_ts=link.thread_ts,
            message_ts=link.ts,
        )

    def url(self) -> str:
        """The page's own URL for this screen (what the page writes to the address bar)."""
        pairs = (
            ("user", self.user_id),
            ("channel", self.conversation_id),
            ("thread", self.thread_ts),
            ("tab", self.tab),
            ("message", self.message_ts),
        )
        return "/?" + urlencode([(name, value) for name, value in pairs if value])


def build_screen(state: SlackState, request: ScreenRequest, reads: ReadMarks) -> dict[str, Any]:
    """The panes for the request, after settling it (a user who cannot see the asked-for
    conversation lands in #general); the settled request is returned for the page's URL.

    The conversation shown counts as read from now on (`reads`)."""
    user = _viewer(state, request.user_id, request.conversation_id)
    conversation = _conversation(state, user, request.conversation_id)
    app_dm = state.dm_id(user.id)
    linked = state.find_message(conversation, request.message_ts or "")
    # Only the app has tabs. Opening it shows Home, unless it wrote since the person last
    # read its messages or a link names one of them: then Messages.
    tab: Tab | None = None
    if conversation == app_dm:
        unread = request.tab is None and reads.unread(user.id, app_dm) > 0
        tab = "messages" if request.tab == "messages" or linked or unread else "home"
    names = _names(state, user)
    thread_ts = request.thread_ts
    if linked is not None and linked.is_reply and not thread_ts:
        thread_ts = linked.thread_ts
    thread = _thread_parent(state, conversation, thread_ts) if tab != "home" else None
    if tab != "home":
        reads.read(user.id, conversation)
    channel = state.channels.get(conversation)
    title = f"#{channel.name}" if channel and conversation != app_dm else state.bot_name
    composer_on = tab != "home" and not (channel is not None and channel.is_archived)
    return {
        "seq": state.feed.seq,
        "user": user.id,
        "channel": conversation,
        "thread": thread.ts if thread else None,
        "tab": tab,
        "message": linked.ts if linked is not None else None,
        "title": title,
        "composer": {
            "enabled": composer_on,
            "placeholder": f"Message {title} — try /opentrain help" if composer_on else "",
        },
        "panes": {
            "sidebar": sidebar_html(state, user, conversation, reads),
            "main": (
                _home(state, user, names, reads.unread(user.id, app_dm))
                if tab == "home"
                else _conversation_pane(state, user, conversation, title, names)
            ),
            "thread": _thread_pane(state, user, thread, names) if thread else "",
            "modal": _modal(state, user, names),
        },
    }


# --- who and where --------------------------------------------------------------------------


def _viewer(state: SlackState, user_id: str | None, conversation_id: str | None) -> User:
    """The person asked for; else, for a link that names no one, someone who can see the
    conversation (the DM's person, or a member); else Ana, or whoever comes first."""
    humans = people(state)
    by_id = {user.id: user for user in humans}
    if user_id in by_id:
        return by_id[user_id]
    channel = state.channels.get(conversation_id or "")
    if user_id is None and channel is not None:
        if channel.im_user in by_id:
            return by_id[channel.im_user]
        members = [user for user in humans if user.id in channel.members]
        if members and DEFAULT_USER not in channel.members:
            return members[0]
    if DEFAULT_USER in by_id:
        return by_id[DEFAULT_USER]
    if not humans:
        raise LookupError("the workspace has no people to act as")
    return humans[0]


def _conversation(state: SlackState, user: User, requested: str | None) -> str:
    app_dm = state.dm_id(user.id)
    if requested == app_dm:
        return app_dm
    channel = state.channels.get(requested or "")
    if channel is not None and channel.kind != "im" and user.id in channel.members:
        return channel.id
    joined = member_channels(state, user)
    general = [c for c in joined if c.is_general]
    return (general or joined)[0].id if (general or joined) else app_dm


def _names(state: SlackState, user: User) -> Names:
    return Names(
        viewer_id=user.id,
        tz=ZoneInfo(user.tz),
        now=state.now(),
        users={u.id: u.display_name or u.real_name or u.name for u in state.users.values()},
        channels={c.id: c.name for c in state.channels.values() if c.kind != "im"},
        groups={g.id: g.handle for g in state.usergroups.values()},
    )


# --- conversation -------------------------------------------------------------------------


def _conversation_pane(
    state: SlackState, user: User, conversation: str, title: str, names: Names
) -> str:
    channel = state.channels.get(conversation)
    if channel is None or conversation == state.dm_id(user.id):
        header = _app_header(state, "messages")
    else:
        header = _channel_header(channel)
    items: list[tuple[str, str]] = [
        (message.ts, _message(state, message, names)) for message in state.messages(conversation)
    ]
    items += [
        (ephemeral.ts, _ephemeral(state, ephemeral, names))
        for ephemeral in state.ephemerals_for(user.id)
        if ephemeral.channel == conversation and ephemeral.thread_ts is None
    ]
    items.sort(key=lambda item: ts_order(item[0]))
    timeline = "".join(html for _, html in items) or (
        f'<p class="empty">This is the very beginning of {plain_html(title)}. '
        "Type <code>/opentrain help</code> below to see what the bot can do.</p>"
    )
    return (
        f'{header}<div class="timeline" id="timeline" data-testid="timeline" '
        f'data-conversation="{attr(conversation)}">{timeline}</div>'
    )


def _channel_header(channel: Channel) -> str:
    note = '<span class="note">archived — read only</span>' if channel.is_archived else ""
    lock = "🔒 " if channel.is_private else "# "
    return (
        f'<header class="main-header"><h2 data-testid="conversation-title">'
        f"{plain_html(lock + channel.name)}</h2>{note}</header>"
    )


def _app_header(state: SlackState, tab: Tab, unread: int = 0) -> str:
    badge = f' <span class="unread-count" data-testid="unread-count">{unread}</span>'
    tabs = "".join(
        f'<a href="#" class="tab{" active" if name == tab else ""}" data-tab="{name}" '
        f'data-testid="tab-{name}">{label}{badge if name == "messages" and unread else ""}</a>'
        for name, label in (("home", "Home"), ("messages", "Messages"))
    )
    return (
        f'<header class="main-header"><h2 data-testid="conversation-title">'
        f'{plain_html(state.bot_name)}</h2><nav class="tabs">{tabs}</nav></header>'
    )


def _home(state: SlackState, user: User, names: Names, unread: int) -> str:
    view = state.home_view(user.id)
    if view is None:
        body = '<p class="empty">Opening the Home tab… (the app has not published one yet)</p>'
    else:
        body = blocks_html(view.content.get("blocks", []), names, Target(view_id=view.id))
    header = _app_header(state, "home", unread)
    return f'{header}<div class="home" data-testid="app-home">{body}</div>'


def _message(state: SlackState, message: Message, names: Names, *, thread_link: bool = True) -> str:
    target = Target(channel=message.channel, ts=message.ts)
    event_type = (message.metadata or {}).get("event_type")
    data = f' data-event-type="{attr(event_type)}"' if event_type else ""
    classes = "message bot" if message.bot_id else "message"
    body = _body(message.text, message.blocks, names, target)
    unfurls = attachments_html([*message.attachments, *message.unfurls.values()], names)
    replies = message.live_replies()
    link = ""
    if thread_link and replies and not message.is_reply:
        link = (
            f'<a href="#" class="thread-link" data-open-thread="{attr(message.ts)}" '
            f'data-testid="open-thread">{_replies(len(replies))}</a>'
        )
    return (
        f'<article class="{classes}" data-testid="message" data-ts="{attr(message.ts)}" '
        f'data-channel="{attr(message.channel)}"{data}>'
        f"{_meta(state, message.user, message.ts, names, edited=bool(message.edits))}"
        f'<div class="body">{body}</div>{unfurls}{_reactions(message, names)}{link}</article>'
    )


def _reactions(message: Message, names: Names) -> str:
    """Slack's pills under a message: the emoji and how many reacted, who in the tooltip."""
    pills = "".join(
        f'<span class="reaction" data-testid="reaction" data-name="{attr(name)}" '
        f'title="{attr(", ".join(names.users.get(u, u) for u in users))}">'
        f"{plain_html(EMOJI.get(name.partition('::')[0], f':{name}:'))} {len(users)}</span>"
        for name, users in message.reactions.items()
    )
    return f'<div class="reactions">{pills}</div>' if pills else ""


def _ephemeral(state: SlackState, ephemeral: Ephemeral, names: Names) -> str:
    target = Target(channel=ephemeral.channel, ts=ephemeral.ts)
    # Slack's own notices ("/opentrain failed …") come from Slackbot, everything else from the app.
    author = "USLACKBOT" if ephemeral.source == "slack" else state.bot_user_id
    body = _body(ephemeral.text, ephemeral.blocks, names, target)
    return (
        f'<article class="message ephemeral" data-testid="ephemeral" '
        f'data-ts="{attr(ephemeral.ts)}" data-channel="{attr(ephemeral.channel)}">'
        f"{_meta(state, author, ephemeral.ts, names, edited=ephemeral.replaced > 0)}"
        f'<div class="ephemeral-note">Only visible to you</div>'
        f'<div class="body">{body}</div></article>'
    )


def _body(text: str, blocks: list[dict[str, Any]], names: Names, target: Target) -> str:
    # With blocks, Slack shows only them; `text` is the notification fallback.
    if blocks:
        return blocks_html(blocks, names, target)
    return f'<div class="bk-text">{mrkdwn_html(text, names)}</div>'


def _meta(state: SlackState, author_id: str, ts: str, names: Names, *, edited: bool) -> str:
    if author_id == "USLACKBOT":
        author, badge = "Slackbot", ""
    elif author_id == state.bot_user_id:
        author, badge = state.bot_name, '<span class="badge">APP</span>'
    else:
        author, badge = names.users.get(author_id, author_id), ""
    moment = datetime.fromtimestamp(ts_order(ts)[0], UTC).astimezone(names.tz)
    mark = ' <span class="edited">(edited)</span>' if edited else ""
    return (
        f'<div class="meta"><span class="author">{plain_html(author)}</span>{badge}'
        f'<time datetime="{attr(moment.isoformat())}" title="{attr(moment.isoformat())}">'
        f"{clock_time(moment)}</time>{mark}</div>"
    )


def _replies(count: int) -> str:
    return f"{count} repl{'y' if count == 1 else 'ies'}"


# --- thread ---------------------------------------------------------------------------------


def _thread_parent(state: SlackState, conversation: str, thread_ts: str | None) -> Message | None:
    if not thread_ts:
        return None
    parent = state.find_message(conversation, thread_ts)
    return parent if parent is not None and not parent.is_reply else None


def _thread_pane(state: SlackState, user: User, parent: Message, names: Names) -> str:
    items = [(reply.ts, _message(state, reply, names)) for reply in parent.live_replies()]
    items += [
        (ephemeral.ts, _ephemeral(state, ephemeral, names))
        for ephemeral in state.ephemerals_for(user.id)
        if ephemeral.channel == parent.channel and ephemeral.thread_ts == parent.ts
    ]
    items.sort(key=lambda item: ts_order(item[0]))
    channel = state.channels.get(parent.channel)
    where = f"#{channel.name}" if channel and channel.kind != "im" else state.bot_name
    return (
        '<header class="thread-header"><h3>Thread</h3>'
        f'<span class="note">{plain_html(where)}</span>'
        '<button type="button" id="thread-close" data-testid="thread-close" '
        'aria-label="Close thread">×</button></header>'
        f'<div class="thread-messages" data-testid="thread" data-thread-ts="{attr(parent.ts)}">'
        f"{_message(state, parent, names, thread_link=False)}"
        f'<div class="reply-count">{_replies(len(parent.live_replies()))}</div>'
        f"{''.join(html for _, html in items)}</div>"
    )


# --- modal ----------------------------------------------------------------------------------


def _modal(state: SlackState, user: User, names: Names) -> str:
    stack = state.modal_stack(user.id)
    if not stack:
        return ""
    view: View = stack[-1]
    content = view.content
    title = _plain(content.get("title"), "App")
    submit = _plain(content.get("submit"), "")
    close = _plain(content.get("close"), "Cancel")
    blocks = blocks_html(content.get("blocks", []), names, Target(view_id=view.id), view.errors)
    submit_button = (
        f'<button type="submit" class="bk-button bk-primary" id="modal-submit" '
        f'data-testid="modal-submit">{plain_html(submit)}</button>'
        if submit
        else ""
    )
    return (
        '<div class="modal-backdrop">'
        f'<form class="modal" id="modal" data-testid="modal" data-view-id="{attr(view.id)}" '
        f'data-callback-id="{attr(content.get("callback_id", ""))}">'
        f'<header><h3>{plain_html(title)}</h3><button type="button" class="modal-close" '
        'data-testid="modal-close" aria-label="Close">×</button></header>'
        f'<div class="modal-body">{blocks}</div>'
        '<p class="modal-error" id="modal-error" role="alert" data-testid="modal-error"></p>'
        f'<footer><button type="button" class="bk-button modal-close">{plain_html(close)}</button>'
        f"{submit_button}</footer></form></div>"
    )


def _plain(text_object: object, default: str) -> str:
    if isinstance(text_object, dict):
        return str(text_object.get("text") or default)
    return default
