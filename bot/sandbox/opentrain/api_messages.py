"""The Public API's messages endpoints (opentrain-api.md §14): read conversations and
messages, send one. Validation failures are zod-style `details.issues`, as documented."""

from __future__ import annotations

from aiohttp import web

from bot.sandbox.opentrain import messaging, wire_messages
from bot.sandbox.opentrain.errors import invalid_issues, issue
from bot.sandbox.opentrain.plumbing import authorize, json_body, ok, page_after, state_of

routes = web.RouteTableDef()


@routes.get("/messages")
async def read_messages(request: web.Request) -> web.Response:
    caller = authorize(request, scopes=["messages:read"])
    state = state_of(request)
    query = request.query
    issues = []
    limit = 20
    raw_limit = query.get("limit")
    if raw_limit is not None:
        if raw_limit.isdecimal() and 1 <= int(raw_limit) <= 100:
            limit = int(raw_limit)
        else:
            issues.append(issue("limit", "invalid_type", "limit must be an integer from 1 to 100"))
    direction = query.get("direction", "older")
    if direction not in ("older", "newer"):
        issues.append(
            issue("direction", "invalid_enum_value", 'direction must be "older" or "newer"')
        )
    bucket = query.get("filter", "all")
    if bucket not in ("all", "job", "proposal"):
        issues.append(
            issue("filter", "invalid_enum_value", 'filter must be "all", "job" or "proposal"')
        )
    unread = query.get("unreadOnly", "false")
    if unread not in ("true", "1", "false", "0"):
        issues.append(issue("unreadOnly", "invalid_type", 'unreadOnly must be "true" or "1"'))
    if issues:
        raise invalid_issues(issues)
    cursor = query.get("cursor")
    viewer = caller.account.owner.id
    conversation_id = query.get("conversationId")
    try:
        if conversation_id is None:
            found = messaging.conversations_of(
                state, caller.account, bucket, unread in ("true", "1")
            )
            chunk, next_cursor = page_after(found, lambda c: c.id, cursor, limit)
            return ok(
                {
                    "conversations": [wire_messages.conversation(c, viewer) for c in chunk],
                    "nextCursor": next_cursor,
                }
            )
        conversation = messaging.conversation_for(state, caller.account, conversation_id)
        # unconfirmed: "older" pages back from the newest message; "newer" tails forward
        # from the cursor (from the first message without one).
        ordered = conversation.messages if direction == "newer" else conversation.messages[::-1]
        entries, next_cursor = page_after(ordered, lambda m: m.id, cursor, limit)
    except ValueError:
        raise invalid_issues([issue("cursor", "custom", "Unknown cursor")]) from None
    # unconfirmed: the message-mode array is called `messages`.
    return ok(
        {
            "messages": [wire_messages.message(conversation, m, viewer) for m in entries],
            "nextCursor": next_cursor,
        }
    )


@routes.post("/messages")
async def send_message(request: web.Request) -> web.Response:
    caller = authorize(
        request,
        scopes=["messages:write"],
        feature="public_api_messaging_writes",
        claim_for="send messages",
    )
    state = state_of(request)
    body = await json_body(request)
    payload = body if isinstance(body, dict) else {}
    conversation_id = payload.get("conversationId")
    if not isinstance(conversation_id, str) or not conversation_id:
        raise invalid_issues(
            [issue("conversationId", "invalid_type", "conversationId is required")]
        )
    conversation = messaging.conversation_for(state, caller.account, conversation_id)
    content = payload.get("content")
    if not isinstance(content, str) or not content.strip():
        raise invalid_issues([issue("content", "too_small", "content must not be empty")])
    if len(content) > messaging.MAX_CONTENT:
        raise invalid_issues(
            [
                issue(
                    "content",
                    "too_big",
                    f"content must be at most {messaging.MAX_CONTENT} characters",
                )
            ]
        )
    message = messaging.send(state, caller.account, conversation, content)
    return ok(
        {
            "ok": True,
            "message": wire_messages.message(conversation, message, caller.account.owner.id),
        },
        201,
    )
