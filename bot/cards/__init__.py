"""Pure Block Kit rendering: domain objects in, Slack messages and views out.

No I/O and no clock reads (callers pass `now`). Every message carries fallback
text, and free text from people or agents is shown so it cannot ping, link or
break the layout (see `bot.cards.text`).
"""

from bot.cards.admin import approvers_view, routes_view
from bot.cards.approval_card import (
    approval_card,
    composer_preview,
    escalation_reply,
    outcome_reply,
    reminder_dm,
    reminder_dm_retired,
    requester_dm,
    requester_dm_retired,
    unfurl_blocks,
)
from bot.cards.audit import audit_view
from bot.cards.contracts import contract_detail, contracts_list
from bot.cards.explanation import explanation_message
from bot.cards.home import home_view
from bot.cards.ids import (
    APPROVAL_EVENT_TYPE,
    OUTCOME_EVENT_TYPE,
    POLICY_EVENT_TYPE,
    REMINDER_EVENT_TYPE,
    REQUESTER_DM_EVENT_TYPE,
    ActionId,
    BlockId,
    CallbackId,
)
from bot.cards.jobs import jobs_list
from bot.cards.links import approval_link_allowed, opentrain_host_of
from bot.cards.lists import MAX_LISTED, digest_message, pending_list
from bot.cards.message import SlackMessage
from bot.cards.modals import hire_modal, milestone_created, milestone_modal
from bot.cards.notices import help_message, notice, usage_error
from bot.cards.proposals import proposals_list, transcript_modal
from bot.cards.receipts import cosign_receipt, reminders_sent
from bot.cards.status import status_report

__all__ = [
    "APPROVAL_EVENT_TYPE",
    "MAX_LISTED",
    "OUTCOME_EVENT_TYPE",
    "POLICY_EVENT_TYPE",
    "REMINDER_EVENT_TYPE",
    "REQUESTER_DM_EVENT_TYPE",
    "ActionId",
    "BlockId",
    "CallbackId",
    "SlackMessage",
    "approval_card",
    "approval_link_allowed",
    "approvers_view",
    "audit_view",
    "composer_preview",
    "contract_detail",
    "contracts_list",
    "cosign_receipt",
    "digest_message",
    "escalation_reply",
    "explanation_message",
    "help_message",
    "hire_modal",
    "home_view",
    "jobs_list",
    "milestone_created",
    "milestone_modal",
    "notice",
    "opentrain_host_of",
    "outcome_reply",
    "pending_list",
    "proposals_list",
    "reminder_dm",
    "reminder_dm_retired",
    "reminders_sent",
    "requester_dm",
    "requester_dm_retired",
    "routes_view",
    "status_report",
    "transcript_modal",
    "unfurl_blocks",
    "usage_error",
]
