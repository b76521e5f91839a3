"""One approval in words and blocks: what is asked, what it costs, who asked, where it stands.

Shared by the card, the thread reply, the DMs and the pending list so they
never describe the same approval differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
    TextObject,
)

from bot.cards.ids import ActionId
from bot.cards.layout import plural
from bot.cards.links import approval_link_allowed
from bot.cards.text import (
    BUTTON_TEXT,
    BUTTON_VALUE,
    CONTEXT_ELEMENT,
    ID_DISPLAY,
    SECTION_FIELD,
    clean,
    clip,
    code,
    date_token,
    esc,
    expiry_phrase,
    mention,
    mrkdwn,
    plain,
    relative,
)
from bot.money import format_usd, hire_cost
from bot.opentrain.models import ApprovalType
from bot.tracked_approvals import AgentStanding, TrackedApproval, TrackedStatus
from bot.tracked_approvals import amount as amount
from bot.tracked_approvals import money_at_stake as money_at_stake

REVIEW_LABEL = "Review & confirm in OpenTrain"
APPROVERS_HOWTO = "/opentrain approvers set #channel @someone"


# --- what is asked -------------------------------------------------------------


def title(approval: TrackedApproval) -> str:
    """The action in words ("Hire Ada L. — Batch 1"); holds free text, so show it as plain text."""
    details = approval.details
    match approval.type:
        case ApprovalType.PROPOSAL_HIRE:
            if details.freelancer_name:
                who = clean(details.freelancer_name)
            elif approval.proposal_id:
                who = f"the freelancer on proposal {clean(approval.proposal_id)}"
            else:
                who = "a freelancer"
            name = (approval.terms.name if approval.terms else None) or details.milestone_name
            return f"Hire {who} — {clean(name)}" if name else f"Hire {who}"
        case ApprovalType.MILESTONE_FUND:
            milestone = details.milestone_name or approval.milestone_id
            return f"Fund milestone {clean(milestone)}" if milestone else "Fund a milestone"
        case ApprovalType.MILESTONE_APPROVE:
            if details.milestone_name:
                return f"Release payout for {clean(details.milestone_name)}"
            if approval.milestone_id:
                return f"Release payout for milestone {clean(approval.milestone_id)}"
            return "Release a milestone payout"
        case ApprovalType.CONTRACT_END:
            contract = details.contract_title or approval.contract_id
            return f"End contract {clean(contract)}" if contract else "End a contract"
        case _:
            return f"Confirm OpenTrain request {clean(approval.approval_id)}"


# --- what it costs --------------------------------------------------------------


def field(text: str) -> MarkdownTextObject:
    """A section field (our own mrkdwn), cut to Slack's per-field limit."""
    return mrkdwn(text, SECTION_FIELD)


def money_fields(approval: TrackedApproval) -> list[TextObject]:
    value = amount(approval)
    shown = format_usd(value) if value is not None else "unknown"
    match approval.type:
        case ApprovalType.PROPOSAL_HIRE:
            if value is None:
                return [field("*Milestone amount*\nunknown — see OpenTrain")]
            cost = hire_cost(value)
            return [
                field(f"*Milestone amount*\n{format_usd(cost.amount)}"),
                field(f"*Marketplace fee (10 %)*\n{format_usd(cost.marketplace_fee)}"),
                field(f"*Contract initiation fee*\n{format_usd(cost.initiation_fee)}"),
                field(f"*Total*\n*{format_usd(cost.total)}*"),
            ]
        case ApprovalType.MILESTONE_FUND:
            return [field(f"*Into escrow*\n{shown}")]
        case ApprovalType.MILESTONE_APPROVE:
            return [field(f"*Released to the freelancer*\n{shown}")]
        case ApprovalType.CONTRACT_END:
            return [field(f"*In escrow*\n{shown}")]
        case _:
            return [field(f"*Amount*\n{shown}")] if value is not None else []


def money_summary(approval: TrackedApproval) -> str:
    """One phrase for lists and fallback text: "$339.95 total incl. fees"."""
    value = amount(approval)
    match approval.type:
        case ApprovalType.PROPOSAL_HIRE:
            if value is None:
                return "amount unknown"
            return f"{format_usd(hire_cost(value).total)} total incl. fees"
        case ApprovalType.MILESTONE_FUND:
            return f"{format_usd(value)} into escrow" if value is not None else "amount unknown"
        case ApprovalType.MILESTONE_APPROVE:
            return f"{format_usd(value)} payout" if value is not None else "amount unknown"
        case ApprovalType.CONTRACT_END:
            return f"{format_usd(value)} in escrow" if value is not None else "escrow unknown"
        case _:
            return format_usd(value) if value is not None else "amount unknown"


# --- ids and who asked ----------------------------------------------------------


def ids_context(approval: TrackedApproval) -> ContextBlock:
    labelled = [
        ("Job", approval.job_id),
        ("Proposal", approval.proposal_id),
        ("Contract", approval.contract_id),
        ("Milestone", approval.milestone_id),
        ("Approval", approval.approval_id),
    ]
    ids = " · ".join(f"{label} {code(value)}" for label, value in labelled if value)
    elements: list[TextObject] = []
    if approval.details.job_title:
        elements.append(plain(f"Job: {approval.details.job_title}", CONTEXT_ELEMENT))
    elements.append(mrkdwn(ids, CONTEXT_ELEMENT))
    return ContextBlock(elements=elements)


def requester_ref(approval: TrackedApproval) -> str:
    """The requester inside mrkdwn: a mention for people, the escaped name for agents."""
    requester = approval.requester
    if requester.kind == "slack":
        return mention(requester.id)
    return f"agent {esc(clip(requester.id, ID_DISPLAY))}"


def requester_blocks(approval: TrackedApproval) -> list[Block]:
    requester = approval.requester
    blocks: list[Block] = []
    if requester.kind == "slack":
        blocks.append(SectionBlock(text=mrkdwn(f"*Requested by* {mention(requester.id)}")))
    else:
        agent = clip(requester.id, ID_DISPLAY)
        blocks.append(SectionBlock(text=plain(f"Requested by agent {agent}", multiline=False)))
        if requester.standing is not None:
            line = standing_line(requester.id, requester.standing)
            blocks.append(ContextBlock(elements=[plain(line, CONTEXT_ELEMENT)]))
    if requester.note:
        # The agent's reason, quoted as typed: plain text, so it can neither ping nor link.
        blocks.append(SectionBlock(text=plain(f"“{clean(requester.note, multiline=True)}”")))
    return blocks


def requester_field(approval: TrackedApproval, label: str) -> TextObject:
    requester = approval.requester
    if requester.kind == "slack":
        return field(f"*{label}*\n{mention(requester.id)}")
    return plain(f"{label}: agent {clip(requester.id, ID_DISPLAY)}", multiline=False)


def approvers_block(approvers: Sequence[str], alone: TrackedApproval | None = None) -> SectionBlock:
    """Who is expected to confirm; `alone`: its requester is the only one configured."""
    if alone is not None:
        return SectionBlock(
            text=mrkdwn(
                f"⚠️ *{requester_ref(alone)} asked and is the only approver.* Someone else must "
                "confirm, so the admins are reminded instead. Add approvers with "
                f"`{APPROVERS_HOWTO}`."
            )
        )
    if approvers:
        return SectionBlock(text=mrkdwn("*Approvers:* " + ", ".join(map(mention, approvers))))
    return SectionBlock(
        text=mrkdwn(
            "⚠️ *No approvers are set for this channel*, so nobody will be reminded before this "
            f"expires. Set them with `{APPROVERS_HOWTO}`."
        )
    )


# --- where it stands --------------------------------------------------------------


class Outcome(NamedTuple):
    emoji: str
    headline: str
    detail: str


OUTCOMES: dict[TrackedStatus, Outcome] = {
    TrackedStatus.CONFIRMED: Outcome("✅", "Confirmed in OpenTrain", ""),
    TrackedStatus.DECLINED: Outcome("❌", "Declined in OpenTrain", "Nothing was hired or paid."),
    TrackedStatus.EXPIRED: Outcome("⌛", "Expired", "Nobody confirmed in time; nothing happened."),
    TrackedStatus.SUPERSEDED: Outcome("↪️", "Replaced by a newer hire request", ""),
    TrackedStatus.ENDED: Outcome(
        "⏹️",
        "Ended in OpenTrain",
        "OpenTrain reports a status this bot does not know; check the outcome in OpenTrain.",
    ),
    TrackedStatus.NOT_FOUND: Outcome(
        "🚫",
        "No longer visible to the bot",
        "OpenTrain no longer shows this approval to the bot's token (404) — it was created by "
        "another account or the token changed; tracking stopped.",
    ),
}


def outcome_detail(approval: TrackedApproval) -> str:
    """The outcome's explanation in mrkdwn, with the newer request's id when one replaced it."""
    detail = OUTCOMES[approval.status].detail
    if approval.status is TrackedStatus.SUPERSEDED and approval.superseded_by:
        detail = f"The newer request is {code(approval.superseded_by)}."
    if approval.status is TrackedStatus.ENDED and approval.opentrain_status:
        detail = (
            f"OpenTrain reports status {code(approval.opentrain_status)}, which this bot does "
            "not know; check the outcome in OpenTrain."
        )
    return detail


def status_text(approval: TrackedApproval, now: datetime) -> str:
    """The card's status line (mrkdwn): waiting and when it expires, or how it ended and when."""
    if approval.status is TrackedStatus.PENDING:
        return (
            "⏳ *Waiting for a human to confirm in OpenTrain*\n"
            f"This request {expiry_phrase(approval.expires_at, now)} "
            f"({date_token(approval.expires_at)})."
        )
    outcome = OUTCOMES[approval.status]
    line = f"{outcome.emoji} *{outcome.headline}*"
    ended_at = approval.resolved_at
    if ended_at is None and approval.status is TrackedStatus.EXPIRED:
        ended_at = approval.expires_at
    if ended_at is not None:
        line += f" {date_token(ended_at)} ({relative(ended_at, now)})"
    detail = outcome_detail(approval)
    return f"{line}\n{detail}" if detail else line


def status_words(approval: TrackedApproval, now: datetime) -> str:
    """The status for fallback text, without markup."""
    if approval.status is TrackedStatus.PENDING:
        left = expiry_phrase(approval.expires_at, now)
        return f"waiting for a human to confirm in OpenTrain, {left}"
    return OUTCOMES[approval.status].headline.lower()


# --- what came of it ----------------------------------------------------------------


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
                "🔒 The milestone is funded into escrow.",
                [("Invoice", "invoiceId"), ("Payment intent", "paymentIntentId")],
                result,
            )
        case ApprovalType.MILESTONE_APPROVE:
            return _evidence(
                "💸 The payout was released to the freelancer.",
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


# --- buttons -------------------------------------------------------------------------


def review_button(
    approval: TrackedApproval, opentrain_host: str, *, label: str = REVIEW_LABEL
) -> ButtonElement | None:
    """The link to OpenTrain's confirmation page, only when it is on the configured host."""
    if not approval_link_allowed(approval.approval_url, opentrain_host):
        return None
    return ButtonElement(
        text=PlainTextObject(text=label, emoji=True),
        action_id=ActionId.OPEN_APPROVAL,
        url=approval.approval_url,
        style="primary",
    )


def review_blocks(
    approval: TrackedApproval, opentrain_host: str, *, extra: Sequence[ButtonElement] = ()
) -> list[Block]:
    """The review button (or why it is missing) followed by the other buttons."""
    button = review_button(approval, opentrain_host)
    buttons = [button, *extra] if button is not None else list(extra)
    blocks: list[Block] = [] if button is not None else [withheld_notice(opentrain_host)]
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def withheld_notice(opentrain_host: str) -> ContextBlock:
    return ContextBlock(
        elements=[
            mrkdwn(
                f"⚠️ Approval link withheld: not on {code(opentrain_host)}. "
                "Open the approval from OpenTrain itself.",
                CONTEXT_ELEMENT,
            )
        ]
    )


def value_button(
    label: str, action_id: ActionId, value: str, *, primary: bool = False
) -> ButtonElement:
    return ButtonElement(
        text=PlainTextObject(text=label, emoji=True),
        action_id=action_id,
        value=clip(value, BUTTON_VALUE),
        style="primary" if primary else None,
    )


def link_button(label: str, url: str, action_id: ActionId) -> ButtonElement:
    """A URL button; `url` must already be vetted (`links.safe_link` or the approval host rule)."""
    return ButtonElement(
        text=plain(label, BUTTON_TEXT, multiline=False), action_id=action_id, url=url
    )


def add_milestone_button(contract_id: str) -> ButtonElement:
    return value_button("Add a milestone", ActionId.ADD_MILESTONE, contract_id)


def request_again_button(approval: TrackedApproval) -> ButtonElement:
    return value_button("Request again", ActionId.REQUEST_AGAIN, approval.approval_id, primary=True)


def standing_line(agent: str, standing: AgentStanding) -> str:
    """ "labeler · 3 requests · $1,350.00 of $1,500.00 in 24 h" (plain text)."""
    count = plural(standing.requests, "request")
    used = format_usd(standing.used_usd)
    of = f" of {format_usd(standing.limit_usd)}" if standing.limit_usd is not None else ""
    return f"{clip(agent, ID_DISPLAY)} · {count} · {used}{of} in 24 h"
