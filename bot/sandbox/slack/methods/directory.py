"""`auth.test`, `users.info` and `usergroups.*`: who the bot is, and who everyone else is."""

from __future__ import annotations

from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.methods.context import ApiContext, Args
from bot.sandbox.slack.model import JsonDict


def auth_test(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    bot_user = state.users.get(state.bot_user_id)
    return {
        "url": f"{state.permalink_base}/",
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
    if user is None:
        raise ApiError("user_not_found")
    body = user.to_slack(state.team_id, state.now())
    if args.flag("include_locale"):
        body["locale"] = "en-US"
    return {"user": body}


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
