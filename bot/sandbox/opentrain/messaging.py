"""Messaging rules (opentrain-api.md §14): who may read and write where — the account's
side through the API, the other participant's through the control API."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from bot.sandbox.opentrain.errors import ApiError, conflict, not_found
from bot.sandbox.opentrain.model import Account, Conversation, Message

if TYPE_CHECKING:
    from bot.sandbox.opentrain.state import SimState

MAX_CONTENT = 10_000
# unconfirmed: what the content policy blocks. Sharing contact details to move work off
# the platform is the classic marketplace rule, so that is what we simulate.
_CONTACT_DETAILS = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+|\+?\d[\d ()-]{8,}\d")


def conversation_for(state: SimState, account: Account, conversation_id: str) -> Conversation:
    found = state.conversations.get(conversation_id)
    if found is None:
        raise not_found("conversations", "conversationId", conversation_id)
    if account.owner.id not in found.participant_ids:
        # unconfirmed: the details of the "not a participant" 403.
        raise ApiError(
            403,
            "You are not a participant in this conversation",
            {"conversationId": conversation_id},
        )
    return found


def conversations_of(
    state: SimState, account: Account, bucket: str, unread_only: bool
) -> list[Conversation]:
    """Newest activity first."""
    viewer = account.owner.id
    found = [
        c
        for c in state.conversations.values()
        if viewer in c.participant_ids
        and (bucket == "all" or c.bucket == bucket)
        and (not unread_only or any(viewer not in m.read_by for m in c.messages))
    ]
    return sorted(found, key=lambda c: c.updated_at, reverse=True)


def ensure_candidate_may_write(conversation: Conversation, owner_id: str) -> None:
    """A read-only conversation takes no message from either side; proposal threads are
    employer-first (§14.2): the candidate cannot write before the
    employer has (§8.3 names the same reason among the conversation endpoint's 403s; §14.2,
    for a message, among the 409s)."""
    if conversation.read_only:
        # derived: a conversation read-only for the employer (its contract ended) is for both.
        raise conflict("read_only_conversation", "This conversation is read-only")
    if conversation.bucket == "proposal" and not any(
        m.sender_user_id == owner_id for m in conversation.messages
    ):
        raise conflict(
            "employer_first_message_required",
            "The employer writes first in a proposal thread; the candidate cannot yet",
        )


def send(state: SimState, account: Account, conversation: Conversation, content: str) -> Message:
    if _CONTACT_DETAILS.search(content):
        raise ApiError(
            403,
            "This message breaks the messaging policy",
            {"reason": "message_policy_blocked", "policy": "contact_details"},
        )
    if conversation.read_only:
        raise conflict("read_only_conversation", "This conversation is read-only")
    if conversation.blocked:
        raise conflict("message_blocked", "The other participant does not accept messages here")
    message = state.add_message(conversation, account.owner.id, content)
    # derived: replying means the viewer has read the thread.
    for earlier in conversation.messages:
        earlier.read_by.add(account.owner.id)
    return message
