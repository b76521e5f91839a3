"""Where an approval stands and what came of it: the status line, what each ending means for
each kind of request (one table), and what a confirmation produced.

Shared by the card, its thread reply, the DMs, the receipts and the Home tab, so an ending
reads the same everywhere. Times are Slack date tokens (each reader's own time zone) or UTC
words in fallback text — never "3 h ago", which would be frozen into a message read later.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from slack_sdk.models.blocks import ActionsBlock, Block, SectionBlock, TextObject

from bot.cards.facts import add_milestone_button, field
from bot.cards.text import (
    ID_DISPLAY,
    SECTION_FIELD,
    clean,
    clip,
    code,
    date_token,
    deadline,
    mrkdwn,
    plain,
    utc_words,
)
from bot.opentrain.models import ApprovalType
from bot.tracked_approvals import TrackedApproval, TrackedStatus


class Outcome(NamedTuple):
    emoji: str
    headline: str


OUTCOMES: dict[TrackedStatus, Outcome] = {
    TrackedStatus.CONFIRMED: Outcome("✅", "Confirmed in OpenTrain"),
    TrackedStatus.DECLINED: Outcome("❌", "Declined in OpenTrain"),
    TrackedStatus.EXPIRED: Outcome("⌛", "Expired"),
    TrackedStatus.SUPERSEDED: Outcome("↪️", "Replaced by a newer hire request"),
    TrackedStatus.ENDED: Outcome("⏹️", "Ended in OpenTrain"),
    TrackedStatus.NOT_FOUND: Outcome("🚫", "No longer visible to the bot"),
}

NOT_FOUND_DETAIL = (
    "OpenTrain no longer shows this approval to the bot's token (404) — it was created by "
    "another account or the token changed; tracking stopped."
)

_CONFIRMED = TrackedStatus.CONFIRMED
_DECLINED = TrackedStatus.DECLINED
_EXPIRED = TrackedStatus.EXPIRED
_SUPERSEDED = TrackedStatus.SUPERSEDED
_ENDED = TrackedStatus.ENDED

# What each ending means in OpenTrain, per kind of request: the one place these sentences
# live. ENDED is a status this bot does not know, so it claims nothing and says what to check.
AFTERMATH: dict[ApprovalType, dict[TrackedStatus, str]] = {
    ApprovalType.PROPOSAL_HIRE: {
        _CONFIRMED: "The freelancer is hired and the first milestone is funded.",
        _DECLINED: "Nobody was hired and nothing was paid.",
        _EXPIRED: "Nobody confirmed in time, so nobody was hired and nothing was paid.",
        _SUPERSEDED: "Nobody was hired through this request; the newer one carries the hire.",
        _ENDED: "Check in OpenTrain whether the freelancer was hired.",
    },
    ApprovalType.MILESTONE_FUND: {
        _CONFIRMED: "The milestone is funded into escrow.",
        _DECLINED: "Nothing was funded; the milestone is still waiting for funding.",
        _EXPIRED: (
            "Nobody confirmed in time, so nothing was funded; the milestone is still waiting "
            "for funding."
        ),
        _SUPERSEDED: "Nothing was funded through this request; the newer one carries the funding.",
        _ENDED: "Check in OpenTrain whether the milestone was funded.",
    },
    ApprovalType.MILESTONE_APPROVE: {
        _CONFIRMED: "The payout was released to the freelancer.",
        _DECLINED: "The payout was not released; the milestone stays funded in escrow.",
        _EXPIRED: (
            "Nobody confirmed in time, so the payout was not released; the milestone stays "
            "funded in escrow."
        ),
        _SUPERSEDED: "No payout was released through this request; the newer one carries it.",
        _ENDED: "Check in OpenTrain whether the payout was released.",
    },
    ApprovalType.CONTRACT_END: {
        _CONFIRMED: "The contract has ended.",
        _DECLINED: "The contract stays active.",
        _EXPIRED: "Nobody confirmed in time, so the contract stays active.",
        _SUPERSEDED: "This request did not end the contract; the newer one carries the end.",
        _ENDED: "Check in OpenTrain whether the contract ended.",
    },
    ApprovalType.UNKNOWN: {
        _CONFIRMED: "OpenTrain carried out the request.",
        _DECLINED: "Nothing was done in OpenTrain.",
        _EXPIRED: "Nobody confirmed in time, so nothing was done in OpenTrain.",
        _SUPERSEDED: "Nothing was done through this request; the newer one replaces it.",
        _ENDED: "Check the outcome in OpenTrain.",
    },
}


def aftermath(approval_type: ApprovalType, status: TrackedStatus) -> str:
    """The sentence for `status` of this kind of request; "" for pending and not found."""
    return AFTERMATH[approval_type].get(status, "")


def ended_at(approval: TrackedApproval) -> datetime | None:
    """When it ended: OpenTrain's `resolvedAt`, or for an expiry without one, `expiresAt`."""
    if approval.resolved_at is None and approval.status is TrackedStatus.EXPIRED:
        return approval.expires_at
    return approval.resolved_at


def outcome_detail(approval: TrackedApproval, *, markup: bool = True) -> str:
    """What the ending means, under its headline (mrkdwn; `markup=False`: plain words).

    Empty for a confirmation: what it produced follows as `result_blocks`.
    """
    status = approval.status
    if status is TrackedStatus.NOT_FOUND:
        return NOT_FOUND_DETAIL
    if status in (TrackedStatus.PENDING, TrackedStatus.CONFIRMED):
        return ""
    sentence = aftermath(approval.type, status)
    if status is TrackedStatus.SUPERSEDED and approval.superseded_by:
        return f"The newer request is {_ref(approval.superseded_by, markup)}. {sentence}"
    if status is TrackedStatus.ENDED:
        said = approval.opentrain_status
        word = f"status {_ref(said, markup)}, which" if said else "a status"
        return f"OpenTrain reports {word} this bot does not know. {sentence}"
    return sentence


def outcome_line(approval: TrackedApproval) -> str:
    """The whole ending in one mrkdwn line: "❌ *Declined in OpenTrain* <date>. <what it means>"."""
    outcome = OUTCOMES[approval.status]
    at = ended_at(approval)
    when = f" {date_token(at)}" if at is not None else ""
    said = outcome_detail(approval) or aftermath(approval.type, approval.status)
    return f"{outcome.emoji} *{outcome.headline}*{when}. {said}".rstrip()


def outcome_words(approval: TrackedApproval) -> str:
    """`outcome_line` as plain words for fallback text, the time in UTC."""
    at = ended_at(approval)
    when = f" {utc_words(at)}" if at is not None else ""
    said = outcome_detail(approval, markup=False) or aftermath(approval.type, approval.status)
    return f"{OUTCOMES[approval.status].headline}{when}. {said}".rstrip()


def status_text(approval: TrackedApproval, now: datetime) -> str:
    """The card's status line (mrkdwn): waiting and until when, or how it ended and when."""
    if approval.status is TrackedStatus.PENDING:
        return (
            "⏳ *Waiting for a human to confirm in OpenTrain*\n"
            f"This request {deadline(approval.expires_at, now)}."
        )
    outcome = OUTCOMES[approval.status]
    line = f"{outcome.emoji} *{outcome.headline}*"
    at = ended_at(approval)
    if at is not None:
        line += f" {date_token(at)}"
    detail = outcome_detail(approval)
    return f"{line}\n{detail}" if detail else line


def status_words(approval: TrackedApproval, now: datetime) -> str:
    """The status for fallback text, without markup."""
    if approval.status is TrackedStatus.PENDING:
        left = deadline(approval.expires_at, now, markup=False)
        return f"waiting for a human to confirm in OpenTrain, {left}"
    return OUTCOMES[approval.status].headline.lower()


def _ref(value: str, markup: bool) -> str:
    return code(value) if markup else clip(clean(value), ID_DISPLAY)


# --- what a confirmation produced -----------------------------------------------------


def result_blocks(approval: TrackedApproval) -> list[Block]:
    """What a confirmed approval produced, with the natural next step."""
    result = approval.result or {}
    match approval.type:
        case ApprovalType.PROPOSAL_HIRE:
            contract_id = _result_id(result, "contractId") or approval.contract_id
            fields: list[TextObject] = []
            if contract_id:
                fields.append(field(f"*Contract*\n{code(contract_id)}"))
            if approval.details.freelancer_name:
                fields.append(
                    plain(f"Freelancer: {approval.details.freelancer_name}", SECTION_FIELD)
                )
            blocks: list[Block] = [SectionBlock(fields=fields)] if fields else []
            blocks.append(
                SectionBlock(
                    text=mrkdwn(
                        "*Next steps:* the first milestone is funded and work can start. Add the "
                        "next milestone when it is due, fund it, and release each payout once "
                        "the work is accepted."
                    )
                )
            )
            if contract_id:
                blocks.append(ActionsBlock(elements=[add_milestone_button(contract_id)]))
            return blocks
        case ApprovalType.MILESTONE_FUND:
            return _evidence(
                f"🔒 {aftermath(approval.type, _CONFIRMED)}",
                [("Invoice", "invoiceId"), ("Payment intent", "paymentIntentId")],
                result,
            )
        case ApprovalType.MILESTONE_APPROVE:
            return _evidence(
                f"💸 {aftermath(approval.type, _CONFIRMED)}",
                [("Payout transaction", "payoutTransactionId"), ("Invoice", "invoiceId")],
                result,
            )
        case ApprovalType.CONTRACT_END:
            return [SectionBlock(text=mrkdwn("🏁 *Contract ended*"))]
        case _:
            return []


def _evidence(
    summary: str, labelled_keys: list[tuple[str, str]], result: dict[str, object]
) -> list[Block]:
    fields: list[TextObject] = [
        field(f"*{label}*\n{code(value)}")
        for label, key in labelled_keys
        if (value := _result_id(result, key))
    ]
    return [SectionBlock(text=mrkdwn(summary), fields=fields or None)]


def _result_id(result: dict[str, object], key: str) -> str | None:
    value = result.get(key)
    return value if isinstance(value, str) and value else None
