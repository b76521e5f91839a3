"""One approval in words and blocks: what is asked, what it costs, who asked, and its buttons.

Shared by the card, the thread reply, the DMs and the pending list so they
never describe the same approval differently (how it ended: `outcomes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

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
    expiry_verb,
    mention,
    mrkdwn,
    plain,
)
from bot.durations import delay_words
from bot.money import format_usd, hire_cost
from bot.opentrain.models import ApprovalType
from bot.tracked_approvals import AgentStanding, Escalation, TrackedApproval
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
            return into_escrow(value) if value is not None else "amount unknown"
        case ApprovalType.MILESTONE_APPROVE:
            return f"{format_usd(value)} payout" if value is not None else "amount unknown"
        case ApprovalType.CONTRACT_END:
            return f"{format_usd(value)} in escrow" if value is not None else "escrow unknown"
        case _:
            return format_usd(value) if value is not None else "amount unknown"


def into_escrow(value: Decimal) -> str:
    """What funding a milestone moves: its amount into escrow, no fees (only a hire has fees)."""
    return f"{format_usd(value)} into escrow"


# --- ids and who asked ----------------------------------------------------------


def ids_context(approval: TrackedApproval) -> ContextBlock:
    """The job by its title (by its id only when the title is unknown), then the other ids."""
    job_title = clean(approval.details.job_title or "")
    labelled = [
        ("Job", None if job_title else approval.job_id),
        ("Proposal", approval.proposal_id),
        ("Contract", approval.contract_id),
        ("Milestone", approval.milestone_id),
        ("Approval", approval.approval_id),
    ]
    ids = " · ".join(f"{label} {code(value)}" for label, value in labelled if value)
    elements: list[TextObject] = []
    if job_title:
        elements.append(plain(f"Job: {job_title}", CONTEXT_ELEMENT))
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


def deadline_text(approval: TrackedApproval, now: datetime) -> str:
    """A pending approval's deadline as a field's mrkdwn: "*Expires*\n<date>"."""
    verb = expiry_verb(approval.expires_at, now).capitalize()
    return f"*{verb}*\n{date_token(approval.expires_at)}"


def requester_field(approval: TrackedApproval, label: str) -> TextObject:
    requester = approval.requester
    if requester.kind == "slack":
        return field(f"*{label}*\n{mention(requester.id)}")
    return plain(f"{label}: agent {clip(requester.id, ID_DISPLAY)}", multiline=False)


def approvers_block(
    approvers: Sequence[str], alone: TrackedApproval | None = None, *, label: str = "Approvers"
) -> SectionBlock:
    """Who is expected to confirm (`label`: the tier); `alone`: its requester is the only one
    configured."""
    if alone is not None:
        return SectionBlock(
            text=mrkdwn(
                f"⚠️ *{requester_ref(alone)} asked and is the only approver.* Someone else must "
                "confirm, so the admins are reminded instead. Add approvers with "
                f"`{APPROVERS_HOWTO}`."
            )
        )
    if approvers:
        return SectionBlock(text=mrkdwn(f"*{label}:* " + ", ".join(map(mention, approvers))))
    return SectionBlock(
        text=mrkdwn(
            "⚠️ *No approvers are set for this channel*, so nobody will be reminded before this "
            f"expires. Set them with `{APPROVERS_HOWTO}`."
        )
    )


def escalations_context(approval: TrackedApproval) -> ContextBlock:
    """ "⏫ Escalated to @cfo after 24 h": every level told because nobody acted."""
    lines = [f"⏫ {escalation_text(escalation)}" for escalation in approval.escalations]
    return ContextBlock(elements=[mrkdwn("\n".join(lines), CONTEXT_ELEMENT)])


def escalation_text(escalation: Escalation) -> str:
    """ "Escalated to @cfo after 24 h" (or to the admins, past the top tier)."""
    return f"Escalated to {escalated_to(escalation)} after {delay_words(escalation.waited)}"


def escalated_to(escalation: Escalation) -> str:
    return ", ".join(map(mention, escalation.to)) if escalation.to else "the admins"


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
