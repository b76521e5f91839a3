"""What an app's answers do in the simulated workspace: a slash command's synchronous
reply, a message posted to a `response_url`, and a `view_submission`'s response action.

Message-shaped answers become an ephemeral, a post, a replacement or a deletion (the
answer's outcome, which `/_sim/state` records for `response_url` posts); a view answer
closes, updates, pushes or clears modals, or shows errors. Slack's refusals raise
`Rejected`.
"""

from __future__ import annotations

from typing import Any, Literal

from bot.sandbox.slack.blocks import InvalidBlocks, prepare_message_blocks, prepare_view
from bot.sandbox.slack.interactions import View
from bot.sandbox.slack.methods.views import MODAL_STACK_MAX
from bot.sandbox.slack.model import Channel, JsonDict
from bot.sandbox.slack.state import SlackState

Source = Literal["response_url", "command_response"]


class Rejected(Exception):
    """Slack refused what the bot sent (the reason is Slack's error string)."""

    def __init__(self, error: str, messages: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []


def apply_message_response(
    state: SlackState,
    body: JsonDict,
    *,
    user_id: str,
    channel: Channel,
    source: Source,
    message_ts: str | None = None,
    ephemeral_ts: str | None = None,
) -> tuple[str, str | None]:
    """Apply a message-shaped answer; returns its outcome and the ts it produced or touched.

    `response_type: in_channel` posts for everyone; anything else is an
    ephemeral message to the user who interacted. `replace_original` and
    `delete_original` act on the message whose button was clicked.
    """
    blocks = _blocks(state, body.get("blocks"))
    text = str(body.get("text") or "")
    thread_ts = body.get("thread_ts")
    original = state.find_message(channel.id, message_ts) if message_ts else None
    original_ephemeral = state.find_ephemeral(user_id, ephemeral_ts) if ephemeral_ts else None
    if body.get("delete_original"):
        if original is not None:
            state.delete(original)
        if original_ephemeral is not None:
            state.delete_ephemeral(original_ephemeral)
        return "deleted", message_ts or ephemeral_ts
    if not text and not blocks:
        raise Rejected("no_text")
    if body.get("replace_original") and (original or original_ephemeral):
        if original is not None:
            state.edit(original, text=text, blocks=blocks or [])
            return "replaced", original.ts
        if original_ephemeral is not None:
            state.replace_ephemeral(original_ephemeral, text=text, blocks=blocks)
            return "replaced", original_ephemeral.ts
    if body.get("response_type") == "in_channel":
        message = state.post(
            channel,
            user=state.bot_user_id,
            text=text,
            blocks=blocks,
            thread_ts=str(thread_ts) if thread_ts else None,
            source=source,
        )
        return "posted", message.ts
    ephemeral = state.post_ephemeral(
        channel.id,
        user=user_id,
        text=text,
        blocks=blocks,
        thread_ts=str(thread_ts) if thread_ts else None,
        source=source,
    )
    return "ephemeral", ephemeral.ts


def apply_command_answer(
    state: SlackState,
    *,
    command: str,
    status: int | None,
    body: Any,
    timed_out: bool,
    user_id: str,
    channel: Channel,
) -> str | None:
    """A slash command's synchronous answer, or the error Slack shows when there is none.

    Returns the ts of the private answer it left, which the command's `response_url`
    may replace later; None when the acknowledgement said nothing."""
    if timed_out or status != 200:
        error = "operation_timeout" if timed_out else "dispatch_failed"
        state.post_ephemeral(
            channel.id,
            user=user_id,
            text=f'{command} failed with the error "{error}"',
            source="slack",
        )
        return None
    if body in ("", None):
        return None
    message = body if isinstance(body, dict) else {"text": str(body)}
    outcome, ts = apply_message_response(
        state, message, user_id=user_id, channel=channel, source="command_response"
    )
    return ts if outcome == "ephemeral" else None


def apply_view_answer(state: SlackState, view: View, body: Any) -> str | None:
    """A `view_submission`'s answer: close, show errors, update, push or clear; returns the action.

    Raises `Rejected` for an answer Slack would not accept; the modal then stays as it was.
    """
    if body in ("", None):
        state.close_view(view)
        return None
    if not isinstance(body, dict):
        raise Rejected("invalid_response")
    action = body.get("response_action")
    if action is None:
        state.close_view(view)
    elif action == "errors":
        _show_errors(state, view, body.get("errors"))
    elif action == "update":
        state.replace_view(view, _modal(state, body.get("view")))
    elif action == "push":
        if len(state.modal_stack(view.user_id)) >= MODAL_STACK_MAX:
            raise Rejected("push_limit_reached")
        state.open_view(view.user_id, "modal", _modal(state, body.get("view")), on_top_of=view)
    elif action == "clear":
        for open_view in state.modal_stack(view.user_id):
            state.close_view(open_view)
    else:
        raise Rejected("invalid_response_action")
    return str(action) if action is not None else None


def _show_errors(state: SlackState, view: View, errors: Any) -> None:
    inputs = {
        block.get("block_id")
        for block in view.content.get("blocks", [])
        if block.get("type") == "input"
    }
    if not isinstance(errors, dict) or not errors:
        raise Rejected("invalid_errors")
    unknown = sorted(str(key) for key in errors if key not in inputs)
    if unknown:
        # Slack only shows errors under input blocks; any other key fails the whole answer.
        raise Rejected("invalid_errors", [f"no input block {key}" for key in unknown])
    view.errors = dict(errors)
    state.feed.bump("view_errors", view=view.id, user=view.user_id)


def _modal(state: SlackState, raw: Any) -> JsonDict:
    try:
        return prepare_view(raw, allowed_types={"modal"}, new_block_id=state.new_block_id)
    except InvalidBlocks as exc:
        raise Rejected("invalid_view", exc.messages) from None


def _blocks(state: SlackState, raw: Any) -> list[JsonDict] | None:
    if raw is None:
        return None
    try:
        return prepare_message_blocks(raw, state.new_block_id)
    except InvalidBlocks as exc:
        raise Rejected("invalid_blocks", exc.messages) from None
