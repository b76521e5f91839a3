"""Stable identifiers shared by the cards and the Slack handlers that react to them.

Values are kebab-case and never change once released: Slack sends them back in
interaction payloads, including from messages posted long before a deploy.
"""

from __future__ import annotations

from enum import StrEnum


class ActionId(StrEnum):
    OPEN_APPROVAL = "open-approval"
    REMIND_APPROVERS = "remind-approvers"
    REQUEST_AGAIN = "request-again"
    HIRE_ANYWAY = "hire-anyway"
    FUND_MILESTONE = "fund-milestone"
    ADD_MILESTONE = "add-milestone"
    SNOOZE_REMINDER = "snooze-reminder"
    OPEN_CARD = "open-card"
    OPEN_CONTRACT = "open-contract"
    REQUEST_PAYOUT = "request-payout"
    END_CONTRACT = "end-contract"
    # On a proposal in `/opentrain proposals`: the hire form pre-filled with its bid, and
    # the AI interview's transcript.
    HIRE_PROPOSAL = "hire-proposal"
    OPEN_TRANSCRIPT = "open-transcript"
    # On a job in `/opentrain jobs`: that job's proposals, as `/opentrain proposals` lists them.
    OPEN_JOB_PROPOSALS = "open-job-proposals"
    # A plain link button (claim page, billing, a status check's fix); Slack still reports
    # the click, so the handler only acknowledges it.
    OPEN_LINK = "open-link"
    # On a policy card: an admin decides an agent's over-limit request.
    ALLOW_POLICY_REQUEST = "allow-policy-request"
    REFUSE_POLICY_REQUEST = "refuse-policy-request"
    # Modal inputs: the view state is keyed by block id, then by these.
    HIRE_NAME = "hire-name"
    HIRE_DESCRIPTION = "hire-description"
    HIRE_AMOUNT = "hire-amount"
    HIRE_DUE_DATE = "hire-due-date"
    MILESTONE_NAME = "milestone-name"
    MILESTONE_DESCRIPTION = "milestone-description"
    MILESTONE_AMOUNT = "milestone-amount"


class BlockId(StrEnum):
    HIRE_NAME = "hire-name"
    HIRE_DESCRIPTION = "hire-description"
    HIRE_AMOUNT = "hire-amount"
    HIRE_DUE_DATE = "hire-due-date"
    HIRE_COST = "hire-cost"
    MILESTONE_NAME = "milestone-name"
    MILESTONE_DESCRIPTION = "milestone-description"
    MILESTONE_AMOUNT = "milestone-amount"
    MILESTONE_COST = "milestone-cost"


class CallbackId(StrEnum):
    HIRE = "hire-modal"
    MILESTONE = "milestone-modal"
    TRANSCRIPT = "transcript-modal"  # read only: closing it is all there is


# Message metadata event types: how the notifier recognises its own messages.
APPROVAL_EVENT_TYPE = "opentrain_approval"  # the card, payload {"approvalId"}
OUTCOME_EVENT_TYPE = "opentrain_outcome"  # the thread reply, payload {"approvalId", "status"}
REMINDER_EVENT_TYPE = "opentrain_reminder"  # reminder DM, payload {"approvalId", "final"}
REQUESTER_DM_EVENT_TYPE = "opentrain_requester_dm"  # payload {"approvalId", "reason"}
POLICY_EVENT_TYPE = "opentrain_policy_request"  # policy card, payload {"requestId", "status"}
