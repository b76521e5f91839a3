"""`POST /_sim/response/<id>`: the `response_url` Slack hands out with each interaction."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.slack.answers import Rejected, apply_message_response
from bot.sandbox.slack.interactions import ResponsePost
from bot.sandbox.slack.state import SlackState

RESPONSE_URL_TTL_S = 30 * 60
RESPONSE_URL_MAX_USES = 5


async def handle_response_url(request: web.Request, state: SlackState) -> web.Response:
    response_url = state.response_urls.get(request.match_info["id"])
    if response_url is None:
        return _error(404, "invalid_url")
    if state.clock() - response_url.issued_at > RESPONSE_URL_TTL_S:
        return _error(404, "expired_url")
    if response_url.uses >= RESPONSE_URL_MAX_USES:
        return _error(404, "used_url")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "invalid_payload")
    if not isinstance(body, dict):
        return _error(400, "invalid_payload")
    channel = state.channels.get(response_url.channel_id)
    if channel is None:
        return _error(404, "channel_not_found")
    response_url.uses += 1
    try:
        outcome, ts = apply_message_response(
            state,
            body,
            user_id=response_url.user_id,
            channel=channel,
            source="response_url",
            message_ts=response_url.message_ts,
            ephemeral_ts=response_url.ephemeral_ts,
        )
    except Rejected as exc:
        return _error(400, exc.error, exc.messages)
    if response_url.kind == "command" and outcome in ("ephemeral", "replaced"):
        # A command's private answer is what its later `replace_original` replaces, as in
        # Slack: a progress note, then the result in its place.
        response_url.ephemeral_ts = ts
    state.record_response_post(
        ResponsePost(
            response_url=str(request.url),
            kind=response_url.kind,
            user_id=response_url.user_id,
            channel_id=channel.id,
            body=body,
            outcome=outcome,
            ts=ts,
        )
    )
    return web.json_response({"ok": True})


def _error(status: int, error: str, messages: list[str] | None = None) -> web.Response:
    body: dict[str, object] = {"ok": False, "error": error}
    if messages:
        body["response_metadata"] = {"messages": messages}
    return web.json_response(body, status=status)
