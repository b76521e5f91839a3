"""`chat.*`: posting, updating, ephemerals, permalinks and unfurls."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bot.sandbox.slack.blocks import InvalidBlocks, prepare_message_blocks
from bot.sandbox.slack.errors import ApiError
from bot.sandbox.slack.interactions import Unfurl
from bot.sandbox.slack.methods.access import require_postable, resolve_channel
from bot.sandbox.slack.methods.context import TS_PATTERN, ApiContext, Args
from bot.sandbox.slack.model import JsonDict, Message
from bot.sandbox.slack.permalinks import MessageLink, permalink

MAX_TEXT = 40_000
METADATA_EVENT_TYPE = re.compile(r"[A-Za-z0-9_-]{1,255}")


@dataclass(frozen=True)
class Content:
    text: str | None
    blocks: list[JsonDict] | None
    attachments: list[JsonDict] | None

    @property
    def empty(self) -> bool:
        return not self.text and not self.blocks and not self.attachments


def parse_content(ctx: ApiContext, args: Args) -> Content:
    text = args.text("text")
    if text is not None and len(text) > MAX_TEXT:
        raise ApiError("msg_too_long")
    blocks = parse_blocks(ctx, args.parsed("blocks", error="invalid_blocks_format"))
    attachments = args.parsed("attachments", error="invalid_attachments")
    if attachments is not None and not isinstance(attachments, list):
        raise ApiError("invalid_attachments")
    return Content(text, blocks, attachments)


def parse_blocks(ctx: ApiContext, blocks: Any) -> list[JsonDict] | None:
    if blocks is None:
        return None
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format")
    try:
        return prepare_message_blocks(blocks, ctx.state.new_block_id)
    except InvalidBlocks as exc:
        raise ApiError("invalid_blocks", messages=exc.messages) from None


def parse_metadata(args: Args) -> tuple[JsonDict | None, list[str]]:
    """Message metadata and any warning; an unusable `event_type` is dropped with a warning."""
    metadata = args.parsed("metadata", error="invalid_metadata_format")
    if metadata is None:
        return None, []
    if (
        not isinstance(metadata, dict)
        or not isinstance(metadata.get("event_type"), str)
        or not isinstance(metadata.get("event_payload"), dict)
    ):
        raise ApiError("invalid_metadata_format")
    if not METADATA_EVENT_TYPE.fullmatch(metadata["event_type"]):
        # Slack posts the message but ignores the metadata (docs: message-metadata).
        return None, ["invalid_metadata_schema"]
    return {"event_type": metadata["event_type"], "event_payload": metadata["event_payload"]}, []


def with_warnings(body: JsonDict, warnings: list[str]) -> JsonDict:
    if warnings:
        body["warning"] = ",".join(warnings)
        body["response_metadata"] = {"warnings": warnings}
    return body


def message_json(ctx: ApiContext, message: Message) -> JsonDict:
    state = ctx.state
    return message.to_slack(state.team_id, bot_name=state.bot_name, include_metadata=True)


def post_message(ctx: ApiContext, args: Args) -> JsonDict:
    channel = resolve_channel(ctx, args.text("channel"), allow_user=True, allow_name=True)
    require_postable(ctx, channel)
    content = parse_content(ctx, args)
    if content.empty:
        raise ApiError("no_text")
    metadata, warnings = parse_metadata(args)
    thread_ts = args.text("thread_ts")
    if thread_ts is not None:
        if not TS_PATTERN.fullmatch(thread_ts):
            raise ApiError("invalid_thread_ts")
        if ctx.state.find_message(channel.id, thread_ts) is None:
            raise ApiError("thread_not_found")
    message = ctx.state.post(
        channel,
        user=ctx.state.bot_user_id,
        text=content.text or "",
        blocks=content.blocks,
        metadata=metadata,
        attachments=content.attachments,
        thread_ts=thread_ts,
        reply_broadcast=args.flag("reply_broadcast"),
    )
    body = {"channel": channel.id, "ts": message.ts, "message": message_json(ctx, message)}
    return with_warnings(body, warnings)


def update(ctx: ApiContext, args: Args) -> JsonDict:
    channel = resolve_channel(ctx, args.text("channel"))
    message = ctx.state.find_message(channel.id, args.text("ts") or "")
    if message is None:
        raise ApiError("message_not_found")
    if message.user != ctx.state.bot_user_id:
        raise ApiError("cant_update_message")
    if channel.is_archived:
        raise ApiError("is_archived")
    content = parse_content(ctx, args)
    metadata, warnings = parse_metadata(args)
    if content.text is None and content.blocks is None and content.attachments is None:
        raise ApiError("no_text")
    # Omitted parts are kept: Slack documents this for blocks and attachments.
    ctx.state.edit(
        message,
        text=content.text,
        blocks=content.blocks,
        metadata=metadata,
        attachments=content.attachments,
    )
    body = {
        "channel": channel.id,
        "ts": message.ts,
        "text": message.text,
        "message": message_json(ctx, message),
    }
    return with_warnings(body, warnings)


def post_ephemeral(ctx: ApiContext, args: Args) -> JsonDict:
    channel = resolve_channel(ctx, args.text("channel"), allow_name=True)
    require_postable(ctx, channel)
    user_id = args.text("user") or ""
    user = ctx.state.users.get(user_id)
    if user is None:
        raise ApiError("user_not_found")
    if user_id not in channel.members:
        raise ApiError("user_not_in_channel")
    content = parse_content(ctx, args)
    if content.empty:
        raise ApiError("no_text")
    ephemeral = ctx.state.post_ephemeral(
        channel.id,
        user=user_id,
        text=content.text or "",
        blocks=content.blocks,
        thread_ts=args.text("thread_ts"),
    )
    return {"message_ts": ephemeral.ts}


def get_permalink(ctx: ApiContext, args: Args) -> JsonDict:
    channel = resolve_channel(ctx, args.text("channel"))
    message = ctx.state.find_message(channel.id, args.text("message_ts") or "")
    if message is None:
        raise ApiError("message_not_found")
    link = MessageLink(
        channel=channel.id, ts=message.ts, thread_ts=message.thread_ts if message.is_reply else None
    )
    return {"channel": channel.id, "permalink": permalink(ctx.state.permalink_base, link)}


def unfurl(ctx: ApiContext, args: Args) -> JsonDict:
    """By `channel` + `ts`, or by `unfurl_id` + `source` (how a composer preview is answered:
    the message does not exist yet)."""
    state = ctx.state
    unfurl_id, source = args.text("unfurl_id"), args.text("source")
    if unfurl_id is not None or source is not None:
        if unfurl_id is None or source not in ("composer", "conversations_history"):
            raise ApiError("invalid_arguments")
        if unfurl_id not in state.unfurl_ids:
            raise ApiError("cannot_unfurl_url")
        channel_id, ts = state.unfurl_ids[unfurl_id]
    else:
        channel_id, ts = _message_of(ctx, args)
    recorded = _unfurls(ctx, args, channel_id, ts)
    for item in recorded:
        state.record_unfurl(item)
    return {}


def _message_of(ctx: ApiContext, args: Args) -> tuple[str, str]:
    channel_id, ts = args.text("channel"), args.text("ts")
    if channel_id is None:
        raise ApiError("missing_channel")
    if ts is None:
        raise ApiError("missing_ts")
    state = ctx.state
    channel = state.channels.get(channel_id)
    if channel is None:
        raise ApiError("cannot_find_channel")
    if state.find_message(channel.id, ts) is None:
        raise ApiError("cannot_find_message")
    return channel.id, ts


def _unfurls(ctx: ApiContext, args: Args, channel_id: str, ts: str) -> list[Unfurl]:
    state = ctx.state
    unfurls = args.parsed("unfurls", error="invalid_unfurls_format")
    if unfurls is None:
        raise ApiError("missing_unfurls")
    if not isinstance(unfurls, dict) or not all(isinstance(u, dict) for u in unfurls.values()):
        raise ApiError("invalid_unfurls_format")
    recorded: list[Unfurl] = []
    for url, body in unfurls.items():
        # Slack only lets an app unfurl what it was offered in a `link_shared` event.
        if (channel_id, ts, url) not in state.link_offers:
            raise ApiError("cannot_unfurl_url")
        if "blocks" in body:
            body = {**body, "blocks": parse_blocks(ctx, body["blocks"])}
        recorded.append(Unfurl(channel=channel_id, ts=ts, url=url, unfurl=body))
    return recorded
