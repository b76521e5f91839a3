"""Conversations and messages in OpenTrain's JSON shapes (opentrain-api.md §14), as `wire.py`
writes everything else: camelCase, ISO-8601 UTC with milliseconds."""

from __future__ import annotations

from bot.sandbox.opentrain.model import Conversation, Message
from bot.sandbox.opentrain.wire import Json, iso


def message(conversation: Conversation, found: Message, viewer_id: str) -> Json:
    return {
        "id": found.id,
        "createdAt": iso(found.created_at),
        "updatedAt": iso(found.created_at),
        "conversationId": conversation.id,
        "jobId": conversation.job_id,
        "senderUserId": found.sender_user_id,
        "isFromViewer": found.sender_user_id == viewer_id,
        "content": found.content,
        "messageType": "TEXT",
        "system": False,
        "hasUnreadFlag": viewer_id not in found.read_by,
        "attachmentCount": 0,
        "hasAudio": False,
        "editedAt": None,
        "reactionCount": 0,
    }


def conversation(found: Conversation, viewer_id: str) -> Json:
    last = found.messages[-1] if found.messages else None
    return {
        "id": found.id,
        "type": "DIRECT_MESSAGE",
        # unconfirmed: "job" for the post-hire DM (only "proposal" is shown in the docs).
        "bucket": found.bucket,
        "jobId": found.job_id,
        "proposalId": found.proposal_id,
        "channelName": found.channel_name,
        "updatedAt": iso(found.updated_at),
        "lastMessage": None
        if last is None
        else {
            "id": last.id,
            "content": last.content,
            "senderUserId": last.sender_user_id,
            "isFromViewer": last.sender_user_id == viewer_id,
            "createdAt": iso(last.created_at),
        },
        "unreadCount": sum(1 for m in found.messages if viewer_id not in m.read_by),
        "needsReplyCount": _needs_reply(found, viewer_id),
    }


def _needs_reply(found: Conversation, viewer_id: str) -> int:
    """derived: messages from the other side since the viewer last wrote."""
    count = 0
    for entry in reversed(found.messages):
        if entry.sender_user_id == viewer_id:
            break
        count += 1
    return count
