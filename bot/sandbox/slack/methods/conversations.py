"""`conversations.*`: opening DMs, joining channels and reading them, their members and messages."""

from __future__ import annotations

from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.methods.access import require_readable, resolve_channel
from bot.sandbox.slack.methods.chat import with_warnings
from bot.sandbox.slack.methods.context import ApiContext, Args, paginate
from bot.sandbox.slack.model import JsonDict, Message

MAX_MPIM_USERS = 8


def open_conversation(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    channel_ref = args.text("channel")
    if channel_ref is not None:
        channel = resolve_channel(ctx, channel_ref)
        if not channel.is_conversation_between_people:
            raise ApiError("method_not_supported_for_channel_type")
        return {"channel": {"id": channel.id}, "no_op": True, "already_open": True}
    user_ids = [u.strip() for u in (args.text("users") or "").split(",") if u.strip()]
    if not user_ids:
        raise ApiError("users_list_not_supplied")
    if len(user_ids) > MAX_MPIM_USERS:
        raise ApiError("too_many_users")
    ctx.require_scope("im:write" if len(user_ids) == 1 else "mpim:write")
    for user_id in user_ids:
        user = state.users.get(user_id)
        if user is None or user.hidden:
            raise ApiError("user_not_found")
        if user.is_bot:
            raise ApiError("cannot_dm_bot")
        if user.deleted:
            raise ApiError("user_disabled")
    channel, existed = (
        state.open_dm(user_ids[0]) if len(user_ids) == 1 else state.open_mpim(user_ids)
    )
    full = args.flag("return_im")
    body: JsonDict = {
        "channel": channel.to_slack(
            state.bot_user_id, team_id=state.team_id, include_num_members=False
        )
        if full
        else {"id": channel.id}
    }
    if existed:
        body["no_op"] = True
        body["already_open"] = True
    return body


def info(ctx: ApiContext, args: Args) -> JsonDict:
    channel = resolve_channel(ctx, args.text("channel"))
    require_readable(ctx, channel, "read")
    return {
        "channel": channel.to_slack(
            ctx.state.bot_user_id,
            team_id=ctx.state.team_id,
            include_num_members=args.flag("include_num_members"),
        )
    }


def join(ctx: ApiContext, args: Args) -> JsonDict:
    """The bot joins a public channel; only public channels can be joined (`channels:join`)."""
    state = ctx.state
    # A private channel the bot is not in stays invisible: `channel_not_found`.
    channel = resolve_channel(ctx, args.text("channel"))
    if channel.kind != "public":
        raise ApiError("method_not_supported_for_channel_type")
    if channel.is_archived:
        raise ApiError("is_archived")
    warnings: list[str] = []
    if state.bot_user_id in channel.members:
        warnings.append("already_in_channel")
    else:
        channel.members.add(state.bot_user_id)
        # Membership changes are announced like `POST /_sim/channels` does.
        state.feed.bump("channel", channel=channel.id)
    body: JsonDict = {
        "channel": channel.to_slack(
            state.bot_user_id, team_id=state.team_id, include_num_members=False
        )
    }
    return with_warnings(body, warnings)


def members(ctx: ApiContext, args: Args) -> JsonDict:
    channel = resolve_channel(ctx, args.text("channel"))
    require_readable(ctx, channel, "read")
    page, next_cursor = paginate(sorted(channel.members), args, default_limit=100)
    return {"members": page, "response_metadata": {"next_cursor": next_cursor}}


def history(ctx: ApiContext, args: Args) -> JsonDict:
    channel = resolve_channel(ctx, args.text("channel"))
    require_readable(ctx, channel, "history")
    newest_first = [m for m in reversed(channel.messages) if not m.deleted]
    page, next_cursor = paginate(_in_range(newest_first, args), args, default_limit=100)
    return {
        "messages": _render(ctx, page, args),
        "has_more": bool(next_cursor),
        "pin_count": 0,
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        "response_metadata": {"next_cursor": next_cursor},
    }


def replies(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    channel = resolve_channel(ctx, args.text("channel"))
    require_readable(ctx, channel, "history")
    message = state.find_message(channel.id, args.text("ts") or "")
    if message is None:
        raise ApiError("thread_not_found")
    if message.is_reply and message.thread_ts is not None:
        parent = state.find_message(channel.id, message.thread_ts)
        if parent is None:
            raise ApiError("thread_not_found")
        message = parent
    thread = [message, *message.live_replies()]
    page, next_cursor = paginate(_in_range(thread, args), args, default_limit=1000)
    return {
        "messages": _render(ctx, page, args),
        "has_more": bool(next_cursor),
        "response_metadata": {"next_cursor": next_cursor},
    }


def _in_range(messages: list[Message], args: Args) -> list[Message]:
    """Slack's `oldest`/`latest` window, exclusive unless `inclusive` is set."""
    oldest, latest = _bound(args, "oldest"), _bound(args, "latest")
    inclusive = args.flag("inclusive")

    def keep(message: Message) -> bool:
        ts = float(message.ts)
        if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
            return False
        return latest is None or ts < latest or (ts == latest and inclusive)

    return [message for message in messages if keep(message)]


def _bound(args: Args, name: str) -> float | None:
    value = args.text(name)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise ApiError(f"invalid_ts_{name}") from None


def _render(ctx: ApiContext, messages: list[Message], args: Args) -> list[JsonDict]:
    state = ctx.state
    # Metadata comes back only when asked for.
    include_metadata = args.flag("include_all_metadata")
    return [
        m.to_slack(state.team_id, bot_name=state.bot_name, include_metadata=include_metadata)
        for m in messages
    ]
