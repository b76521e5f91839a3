"""`reactions.add`: an emoji reaction on a message, thread replies included."""

from __future__ import annotations

import re

from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.methods.access import resolve_channel
from bot.sandbox.slack.methods.context import TS_PATTERN, ApiContext, Args
from bot.sandbox.slack.model import JsonDict

# A shortcode without its colons, optionally with a skin tone (`thumbsup::skin-tone-2`).
# Slack also refuses names that are no emoji at all; the simulator knows no emoji list,
# so any plausible shortcode passes.
EMOJI_NAME = re.compile(r"[a-z0-9_+\-']+(::skin-tone-[2-6])?")


def add(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    channel_ref, ts, name = args.text("channel"), args.text("timestamp"), args.text("name")
    if channel_ref is None or ts is None:
        raise ApiError("no_item_specified")
    channel = resolve_channel(ctx, channel_ref)
    # A bot token reacts only where it can read: in conversations it is a member of.
    if state.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    if channel.is_archived:
        raise ApiError("is_archived")
    if not TS_PATTERN.fullmatch(ts):
        raise ApiError("bad_timestamp")
    message = state.find_message(channel.id, ts)
    if message is None:
        raise ApiError("message_not_found")
    if name is None or not EMOJI_NAME.fullmatch(name):
        raise ApiError("invalid_name")
    if state.bot_user_id in message.reactions.get(name, []):
        raise ApiError("already_reacted")
    state.add_reaction(message, name, user=state.bot_user_id)
    return {}
