"""`views.*`: modals (opened with a fresh trigger) and Home tabs."""

from __future__ import annotations

from collections.abc import Collection

from bot.sandbox.slack.blocks import InvalidBlocks, prepare_view
from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.interactions import Trigger, View
from bot.sandbox.slack.methods.context import ApiContext, Args
from bot.sandbox.slack.model import JsonDict

TRIGGER_TTL_S = 3.0  # a trigger_id is good for three seconds after the interaction
MODAL_STACK_MAX = 3


def parse_view(ctx: ApiContext, raw: object, *, allowed_types: Collection[str]) -> JsonDict:
    """The app-supplied part of a view, validated like Slack (`invalid_arguments` + messages)."""
    try:
        return prepare_view(raw, allowed_types=allowed_types, new_block_id=ctx.state.new_block_id)
    except InvalidBlocks as exc:
        raise ApiError("invalid_arguments", messages=exc.messages) from None


def render(ctx: ApiContext, view: View) -> JsonDict:
    state = ctx.state
    return view.to_slack(team_id=state.team_id, app_id=state.app_id, bot_id=state.bot_id)


def open_modal(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    content = _view_argument(ctx, args, allowed_types={"modal"})
    trigger = _exchange_trigger(ctx, args)
    _require_unique_external_id(ctx, content, current=None)
    # A new modal replaces whatever stack the user had open.
    for stale in state.modal_stack(trigger.user_id):
        state.close_view(stale)
    view = state.open_view(trigger.user_id, "modal", content, on_top_of=None)
    return {"view": render(ctx, view)}


def push(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    content = _view_argument(ctx, args, allowed_types={"modal"})
    trigger = _exchange_trigger(ctx, args)
    stack = state.modal_stack(trigger.user_id)
    if not stack:
        raise ApiError("not_found")
    if len(stack) >= MODAL_STACK_MAX:
        raise ApiError("push_limit_reached")
    _require_unique_external_id(ctx, content, current=None)
    view = state.open_view(trigger.user_id, "modal", content, on_top_of=stack[-1])
    return {"view": render(ctx, view)}


def update(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    view_id, external_id = args.text("view_id"), args.text("external_id")
    if view_id is None and external_id is None:
        raise ApiError("invalid_arguments", messages=["[ERROR] view_id or external_id is required"])
    view = state.views.get(view_id) if view_id else state.view_by_external_id(external_id or "")
    if view is None or view.closed:
        raise ApiError("not_found")
    content = _view_argument(ctx, args, allowed_types={view.type})
    _check_hash(args, view)
    if view.external_id:
        # The view keeps the id it is addressed by unless the update sets another.
        content.setdefault("external_id", view.external_id)
    _require_unique_external_id(ctx, content, current=view)
    return {"view": render(ctx, state.replace_view(view, content))}


def publish(ctx: ApiContext, args: Args) -> JsonDict:
    state = ctx.state
    user_id = args.text("user_id") or ""
    if user_id not in state.users:
        raise ApiError("invalid_arguments", messages=["[ERROR] invalid `user_id`"])
    content = _view_argument(ctx, args, allowed_types={"home"})
    existing = state.home_view(user_id)
    if existing is not None:
        _check_hash(args, existing)
        return {"view": render(ctx, state.replace_view(existing, content))}
    return {"view": render(ctx, state.open_view(user_id, "home", content, on_top_of=None))}


def _view_argument(ctx: ApiContext, args: Args, *, allowed_types: Collection[str]) -> JsonDict:
    raw = args.parsed("view", error="invalid_arguments")
    if raw is None:
        raise ApiError("invalid_arguments", messages=["[ERROR] missing required field: view"])
    return parse_view(ctx, raw, allowed_types=allowed_types)


def _exchange_trigger(ctx: ApiContext, args: Args) -> Trigger:
    trigger_id = args.text("trigger_id")
    if trigger_id is None:
        raise ApiError("invalid_arguments", messages=["[ERROR] missing required field: trigger_id"])
    trigger = ctx.state.triggers.get(trigger_id)
    if trigger is None:
        raise ApiError("invalid_trigger_id")
    if trigger.exchanged:
        raise ApiError("exchanged_trigger_id")
    if ctx.state.clock() - trigger.issued_at > TRIGGER_TTL_S:
        raise ApiError("expired_trigger_id")
    trigger.exchanged = True
    return trigger


def _check_hash(args: Args, view: View) -> None:
    expected = args.text("hash")
    if expected is not None and expected != view.hash:
        raise ApiError("hash_conflict")


def _require_unique_external_id(
    ctx: ApiContext, content: JsonDict, *, current: View | None
) -> None:
    external_id = content.get("external_id")
    if not external_id:
        return
    other = ctx.state.view_by_external_id(str(external_id))
    if other is not None and other is not current:
        raise ApiError("duplicate_external_id")
