"""`auth.test`, `users.*` and `usergroups.*`: who the bot is, and who everyone else is."""

from __future__ import annotations

from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.methods.context import ApiContext, Args, paginate
from bot.sandbox.slack.model import JsonDict


def auth_test(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    bot_user = state.users.get(state.bot_user_id)
    return {
        "url": f"{state.team_url}/",
        "team": state.team_name,
        "user": bot_user.name if bot_user else "bot",
        "team_id": state.team_id,
        "user_id": state.bot_user_id,
        "bot_id": state.bot_id,
        "is_enterprise_install": False,
    }


def users_info(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    user = state.users.get(args.text("user") or "")
    if user is None or user.hidden:
        raise ApiError("user_not_found")
    body = user.to_slack(state.team_id, state.now())
    if args.flag("include_locale"):
        body["locale"] = "en-US"
    return {"user": body}


def users_list(ctx: ApiContext, args: Args) -> JsonDict:
    """The workspace's own people, deactivated ones, guests and bots included.

    Slack documents `users.list` as "all users in the workspace"; whether it also returns
    Slack Connect users of another organisation is not documented, so they are left out
    (`users.info` and `conversations.members` still know them).
    """
    state = ctx.state
    own = [u for u in state.users.values() if u.home_team(state.team_id) == state.team_id]
    # No `limit` (documented default 0) asks for the whole directory in one page.
    page, next_cursor = paginate(own, args, default_limit=1000, zero_is_default=True)
    now, include_locale = state.now(), args.flag("include_locale")
    members = [u.to_slack(state.team_id, now) for u in page]
    if include_locale:
        for member in members:
            member["locale"] = "en-US"
    return {
        "members": members,
        "cache_ts": int(state.clock()),
        "response_metadata": {"next_cursor": next_cursor},
    }


def usergroups_list(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    include_users, include_count = args.flag("include_users"), args.flag("include_count")
    return {
        "usergroups": [
            group.to_slack(state.team_id, include_users=include_users, include_count=include_count)
            for group in state.usergroups.values()
        ]
    }


def usergroups_users_list(ctx: ApiContext, args: Args) -> JsonDict:
    group = ctx.state.usergroups.get(args.text("usergroup") or "")
    if group is None:
        raise ApiError("no_such_subteam")
    return {"users": list(group.users)}
