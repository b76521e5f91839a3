"""Which conversations a bot token can see, post to and read, as Slack decides it."""

from __future__ import annotations

from typing import Literal

from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.methods.context import ApiContext
from bot.sandbox.slack.model import Channel

_SCOPE_FAMILY = {"public": "channels", "private": "groups", "im": "im", "mpim": "mpim"}


def resolve_channel(
    ctx: ApiContext, ref: str | None, *, allow_user: bool = False, allow_name: bool = False
) -> Channel:
    """The conversation `ref` names, as far as the bot can see it.

    A private conversation the bot is not in is invisible to it, so Slack
    answers `channel_not_found` for it, exactly as for an id that does not exist.
    """
    state = ctx.state
    if not ref:
        raise ApiError("channel_not_found")
    if allow_user and ref[0] in "UW":
        user = state.users.get(ref)
        if user is None:
            raise ApiError("channel_not_found")
        if user.is_bot:
            raise ApiError("cannot_dm_bot")
        return state.open_dm(ref)[0]
    channel = state.channels.get(ref)
    if channel is None and allow_name:
        channel = state.channel_named(ref)
    if channel is None or (channel.is_private and state.bot_user_id not in channel.members):
        raise ApiError("channel_not_found")
    return channel


def require_postable(ctx: ApiContext, channel: Channel) -> None:
    state = ctx.state
    if channel.is_archived:
        raise ApiError("is_archived")
    if channel.kind == "im" and channel.im_user is not None:
        person = state.users.get(channel.im_user)
        # Deactivating a user archives their DMs.
        if person is not None and person.deleted:
            raise ApiError("is_archived")
    if state.bot_user_id not in channel.members and not (
        channel.kind == "public" and "chat:write.public" in ctx.scopes
    ):
        raise ApiError("not_in_channel")


def require_readable(ctx: ApiContext, channel: Channel, access: Literal["read", "history"]) -> None:
    """`*:read` for a conversation's info and members, `*:history` for its messages."""
    ctx.require_scope(f"{_SCOPE_FAMILY[channel.kind]}:{access}")
    if access == "history" and ctx.state.bot_user_id not in channel.members:
        # Only user tokens may read public channels they are not in.
        raise ApiError("not_in_channel")
