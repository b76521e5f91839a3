"""What is waiting for a human: the pending list (soonest expiry first) and the daily digest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal

from slack_sdk.models.blocks import (
    Block,
    ContextBlock,
    HeaderBlock,
    LinkButtonElement,
    SectionBlock,
)

from bot.cards import facts
from bot.cards.ids import ActionId
from bot.cards.layout import packed_sections, plural
from bot.cards.links import safe_link
from bot.cards.message import SlackMessage
from bot.cards.text import (
    CONTEXT_ELEMENT,
    HEADER_TEXT,
    clip,
    deadline,
    esc,
    fallback,
    link,
    mrkdwn,
    plain,
)
from bot.money import format_usd
from bot.tracked_approvals import TrackedApproval

# One section per approval keeps each entry readable; 40 of them plus the header
# and the "…and N more" line stay under Slack's 50 blocks per message.
MAX_LISTED = 40
ENTRY_TEXT = 300  # a list is for scanning; the card has the whole story
DIGEST_TITLE = 150


def pending_list(
    approvals: Sequence[TrackedApproval], *, now: datetime, permalinks: Mapping[str, str]
) -> SlackMessage:
    if not approvals:
        return SlackMessage(
            text="Nothing is waiting for a human in OpenTrain.",
            blocks=[SectionBlock(text=mrkdwn("✅ Nothing is waiting for a human in OpenTrain."))],
        )
    ordered = sorted(approvals, key=lambda a: (a.expires_at, a.approval_id))
    shown = ordered[:MAX_LISTED]
    blocks: list[Block] = [
        HeaderBlock(text=f"Waiting for a human in OpenTrain ({len(ordered)})"),
        *(_entry(approval, now, permalinks.get(approval.approval_id)) for approval in shown),
    ]
    hidden = len(ordered) - len(shown)
    if hidden:
        blocks.append(ContextBlock(elements=[mrkdwn(f"…and {hidden} more (those expiring last).")]))
    soonest = ordered[0]
    return SlackMessage(
        text=fallback(
            f"{len(ordered)} waiting for a human in OpenTrain; the first "
            f"{deadline(soonest.expires_at, now, markup=False)}."
        ),
        blocks=blocks,
    )


def _entry(approval: TrackedApproval, now: datetime, permalink: str | None) -> SectionBlock:
    url = safe_link(permalink)
    return SectionBlock(
        text=plain(
            f"{clip(facts.title(approval), ENTRY_TEXT - 50)} — {facts.money_summary(approval)}",
            ENTRY_TEXT,
            multiline=False,
        ),
        fields=[
            facts.requester_field(approval, "Asked by"),
            facts.field(facts.deadline_text(approval, now)),
        ],
        accessory=(
            LinkButtonElement(text="View card", url=url, action_id=ActionId.OPEN_CARD)
            if url is not None
            else None
        ),
    )


def digest_message(approvals: Sequence[TrackedApproval], *, now: datetime) -> SlackMessage:
    """The daily digest: one line per pending approval in the caller's order (most money first)."""
    if not approvals:
        return SlackMessage(
            text="Nothing is waiting for a human in OpenTrain.",
            blocks=[SectionBlock(text=mrkdwn("✅ Nothing is waiting for a human in OpenTrain."))],
        )
    stakes = [facts.money_at_stake(approval) for approval in approvals]
    at_risk = sum((stake for stake in stakes if stake is not None), Decimal(0))
    headline = f"{plural(len(approvals), 'approval')} pending, {format_usd(at_risk)} at risk"
    blocks: list[Block] = [
        HeaderBlock(text=plain(headline, HEADER_TEXT, multiline=False)),
        *packed_sections(
            [_digest_line(approval, now) for approval in approvals],
            more=lambda hidden: f"…and {hidden} more.",
        ),
    ]
    unknown = stakes.count(None)
    if unknown:
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(
                        f"{plural(unknown, 'approval')} with an unknown amount "
                        "not counted in the total.",
                        CONTEXT_ELEMENT,
                    )
                ]
            )
        )
    return SlackMessage(text=fallback(headline), blocks=blocks)


def _digest_line(approval: TrackedApproval, now: datetime) -> str:
    title = clip(facts.title(approval), DIGEST_TITLE)
    url = safe_link(approval.card_permalink)
    shown = link(url, title) if url is not None else esc(title)
    return (
        f"• {shown} — {esc(facts.money_summary(approval))} — {deadline(approval.expires_at, now)}"
    )
