"""The sidebar: who one acts as, and the conversations they are in, unread ones marked.

Also who may be acted as and which channels a person is in, which the screen needs too.
"""

from __future__ import annotations

from bot.sandbox.slack.model import Channel
from bot.sandbox.slack.people import User
from bot.sandbox.slack.state import SlackState
from bot.sandbox.slack.viewer.markup import attr, plain_html
from bot.sandbox.slack.viewer.reads import ReadMarks


def people(state: SlackState) -> list[User]:
    """The seeded humans a person can act as, by name."""
    humans = [u for u in state.users.values() if not u.is_bot and not u.deleted]
    return sorted(humans, key=lambda u: u.real_name.lower())


def member_channels(state: SlackState, user: User) -> list[Channel]:
    channels = [
        c
        for c in state.channels.values()
        if c.kind in ("public", "private") and user.id in c.members
    ]
    return sorted(channels, key=lambda c: (c.is_archived, c.name))


def sidebar_html(state: SlackState, user: User, current: str, reads: ReadMarks) -> str:
    def link(conversation_id: str, label: str, extra: str = "") -> str:
        # The open conversation was just read, unless it is the app's and Home is shown.
        unread = reads.unread(user.id, conversation_id)
        return _link(conversation_id, label, current, unread, extra=extra)

    options = "".join(
        f'<option value="{attr(person.id)}"{" selected" if person.id == user.id else ""}>'
        f"{plain_html(_person_label(state, person))} ({plain_html(person.id)})</option>"
        for person in people(state)
    )
    channels = "".join(
        link(channel.id, f"# {channel.name}", " archived" if channel.is_archived else "")
        for channel in member_channels(state, user)
    )
    groups = [c for c in state.channels.values() if c.kind == "mpim" and user.id in c.members]
    dms = "".join(link(c.id, _mpim_label(state, c, user)) for c in groups)
    app = link(state.dm_id(user.id), state.bot_name, " app-link")
    return (
        f'<div class="workspace">{plain_html(state.team_name)}</div>'
        '<label class="viewer-as" for="user-picker">Acting as</label>'
        f'<select id="user-picker" data-testid="user-picker">{options}</select>'
        f'<h4>Channels</h4><ul class="conversations">{channels}</ul>'
        + (f'<h4>Direct messages</h4><ul class="conversations">{dms}</ul>' if dms else "")
        + f'<h4>Apps</h4><ul class="conversations">{app}</ul>'
    )


def _person_label(state: SlackState, person: User) -> str:
    """Names outsiders as Slack's client marks them, so one can pick who to test as."""
    if person.home_team(state.team_id) != state.team_id:
        return f"{person.real_name} · Slack Connect"
    if person.is_restricted or person.is_ultra_restricted:
        return f"{person.real_name} · guest"
    return person.real_name


def _link(conversation_id: str, label: str, current: str, unread: int, *, extra: str) -> str:
    classes = "conversation" + (" active" if conversation_id == current else "") + extra
    badge = ""
    if unread:
        classes += " unread"
        badge = (
            f'<span class="unread-count" data-testid="unread-count" '
            f'title="{unread} unread">{unread}</span>'
        )
    return (
        f'<li><a href="#" class="{classes}" data-conversation="{attr(conversation_id)}" '
        f'data-testid="conversation-link"><span class="name">{plain_html(label)}</span>'
        f"{badge}</a></li>"
    )


def _mpim_label(state: SlackState, channel: Channel, user: User) -> str:
    others = [
        state.users[m].display_name
        for m in sorted(channel.members)
        if m != user.id and m in state.users
    ]
    return ", ".join(others) or channel.name
