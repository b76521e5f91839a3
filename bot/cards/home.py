"""The App Home tab: what waits on you, what you asked for, and how recent requests ended."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    LinkButtonElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from bot.cards import facts, outcomes
from bot.cards.ids import ActionId
from bot.cards.links import safe_link
from bot.cards.lists import ENTRY_TEXT
from bot.cards.text import (
    CONTEXT_ELEMENT,
    clip,
    date_token,
    mrkdwn,
    plain,
)
from bot.tracked_approvals import TrackedApproval, TrackedStatus

# A home tab holds 100 blocks: the "updated" line, then per part a header, up to
# 15 rows of two blocks (the row, its buttons) and one closing line — 97 at most.
MAX_ROWS = 15
URGENT_WITHIN = timedelta(hours=12)
REVIEW_LABEL = "Review in OpenTrain"


def home_view(
    *,
    waiting_on_you: Sequence[TrackedApproval],
    requested_by_you: Sequence[TrackedApproval],
    recent_outcomes: Sequence[TrackedApproval],
    now: datetime,
    opentrain_host: str,
    tiers: Mapping[str, str] | None = None,
) -> View:
    """Three parts in the caller's order; rows expiring within 12 h are marked urgent.

    `tiers`: the approver tier of a pending approval by id ("$1,000.00 and more"), shown
    with whether it was escalated."""
    tiers = tiers or {}
    blocks: list[Block] = [
        ContextBlock(elements=[mrkdwn(f"Updated {date_token(now)}", CONTEXT_ELEMENT)]),
        *_part(
            "Waiting on you",
            waiting_on_you,
            "Nothing is waiting for you to confirm in OpenTrain.",
            now,
            opentrain_host,
            tiers,
        ),
        *_part(
            "Requested by you",
            requested_by_you,
            "Nothing you asked for is waiting for a human.",
            now,
            opentrain_host,
            tiers,
        ),
        *_part(
            "Recent outcomes",
            recent_outcomes,
            "No request has been confirmed, declined or expired lately.",
            now,
            opentrain_host,
            tiers,
        ),
    ]
    return View(type="home", blocks=blocks)


def _part(
    heading: str,
    approvals: Sequence[TrackedApproval],
    empty: str,
    now: datetime,
    opentrain_host: str,
    tiers: Mapping[str, str],
) -> list[Block]:
    if not approvals:
        return [HeaderBlock(text=heading), ContextBlock(elements=[mrkdwn(empty, CONTEXT_ELEMENT)])]
    blocks: list[Block] = [HeaderBlock(text=f"{heading} ({len(approvals)})")]
    for approval in approvals[:MAX_ROWS]:
        blocks += _row(approval, now, opentrain_host, tiers.get(approval.approval_id))
    hidden = len(approvals) - MAX_ROWS
    if hidden > 0:
        more = f"…and {hidden} more — `/opentrain pending` lists every pending one."
        blocks.append(ContextBlock(elements=[mrkdwn(more, CONTEXT_ELEMENT)]))
    return blocks


def _row(
    approval: TrackedApproval, now: datetime, opentrain_host: str, tier: str | None
) -> list[Block]:
    pending = approval.status is TrackedStatus.PENDING
    urgent = pending and timedelta(0) < approval.expires_at - now <= URGENT_WITHIN
    what = f"{clip(facts.title(approval), ENTRY_TEXT - 50)} — {facts.money_summary(approval)}"
    fields = [facts.requester_field(approval, "Asked by"), facts.field(_when(approval, now))]
    if pending and tier is not None:
        fields.append(facts.field(f"*Approver tier*\n{tier}"))
    if pending and approval.escalations:
        fields.append(facts.field(f"*⏫ {facts.escalation_text(approval.escalations[-1])}*"))
    blocks: list[Block] = [
        SectionBlock(
            text=plain(f"🔴 Urgent: {what}" if urgent else what, ENTRY_TEXT, multiline=False),
            fields=fields,
        )
    ]
    buttons: list[ButtonElement] = []
    card_url = safe_link(approval.card_permalink)
    if card_url is not None:
        buttons.append(
            LinkButtonElement(text="View card", url=card_url, action_id=ActionId.OPEN_CARD)
        )
    if pending:
        review = facts.review_button(approval, opentrain_host, label=REVIEW_LABEL)
        if review is not None:
            buttons.append(review)
    if buttons:
        blocks.append(ActionsBlock(elements=buttons))
    return blocks


def _when(approval: TrackedApproval, now: datetime) -> str:
    if approval.status is TrackedStatus.PENDING:
        return facts.deadline_text(approval, now)
    outcome = outcomes.OUTCOMES[approval.status]
    ended_at = outcomes.ended_at(approval)
    when = f"\n{date_token(ended_at)}" if ended_at is not None else ""
    return f"{outcome.emoji} *{outcome.headline}*{when}"
