"""Private answers to whoever asked for something: a co-sign started, approvers reminded."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    LinkButtonElement,
    SectionBlock,
)

from bot.cards import facts, outcomes
from bot.cards.ids import ActionId
from bot.cards.layout import plural
from bot.cards.links import safe_link
from bot.cards.message import SlackMessage
from bot.cards.text import (
    channel_ref,
    code,
    date_token,
    esc,
    fallback,
    mention,
    mrkdwn,
    plain,
)
from bot.tracked_approvals import TrackedApproval, TrackedStatus

# What the requester can do about each Slack error that kept the card out of its channel.
_CARD_ERROR_HINTS = {
    "not_in_channel": "invite me with `/invite @OpenTrain co-sign`",
    "is_archived": "the channel is archived",
    "channel_not_found": "the channel no longer exists or is private to me",
    "no_channel": (
        "no channel was given and no route or DEFAULT_CHANNEL matches — set one with "
        "`/opentrain route`"
    ),
}


def cosign_receipt(
    approval: TrackedApproval,
    *,
    created: bool,
    channel_id: str | None,
    permalink: str | None,
    error: str | None,
    now: datetime,
    opentrain_host: str,
) -> SlackMessage:
    """Where the card went (or why it did not), and what has to happen next.

    Without `channel_id` (a failed post may not report one) the approval's own
    channel is named instead.
    """
    channel = channel_id or approval.channel_id
    where = channel_ref(channel) if channel else None
    if error:
        place = f" in {where}" if where else ""
        headline = (
            f"⚠️ OpenTrain recorded the request (approval {code(approval.approval_id)}), but the "
            f"card could not be posted{place}: {code(error)}"
        )
        hint = _CARD_ERROR_HINTS.get(error)
        headline += f" — {hint}." if hint else "."
        if approval.requester.kind == "slack":
            headline += " I'm sending you the card by DM instead."
        words = f"The card could not be posted ({error})"
    elif not created:
        headline = "Already tracked — this is the same approval as before; no new card."
        words = "Already tracked, no new card"
    else:
        headline = f"✅ Approval card posted in {where}." if where else "✅ Approval card posted."
        words = "Approval card posted"
    title = facts.title(approval)
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(f"{headline}\n{_next_step(approval, now)}")),
        SectionBlock(text=plain(f"{title} — {facts.money_summary(approval)}")),
    ]
    extra: list[ButtonElement] = []
    card_url = safe_link(permalink)
    if card_url is not None:
        extra.append(
            LinkButtonElement(text="View card", url=card_url, action_id=ActionId.OPEN_CARD)
        )
    if approval.status is TrackedStatus.PENDING:
        blocks += facts.review_blocks(approval, opentrain_host, extra=extra)
    elif extra:
        blocks.append(ActionsBlock(elements=extra))
    return SlackMessage(text=fallback(f"{words}: {title}"), blocks=blocks)


def _next_step(approval: TrackedApproval, now: datetime) -> str:
    """Pending: the deadline. Already resolved (tracking an old approval): how it ended."""
    if approval.status is TrackedStatus.PENDING:
        when = date_token(approval.expires_at)
        if approval.expires_at <= now:
            return f"It was due by {when}; OpenTrain has not reported it expired yet."
        return f"A human must confirm in OpenTrain before {when}."
    outcome = outcomes.OUTCOMES[approval.status]
    line = f"It has already resolved: {outcome.emoji} *{outcome.headline}*"
    ended_at = outcomes.ended_at(approval)
    if ended_at is not None:
        line += f" {date_token(ended_at)}"
    detail = outcomes.outcome_detail(approval)
    return f"{line}. {detail}" if detail else f"{line}."


# Past this many, the answer names a few and counts the rest (keeps it one short line).
MAX_NAMED = 10


def reminders_sent(reminded: Sequence[str], throttled_until: datetime | None) -> SlackMessage:
    """The answer to "Remind approvers": who was reminded, or when reminding is possible again."""
    if throttled_until is not None:
        text = (
            "⏳ The approvers were already reminded within the hour, so nobody was reminded "
            f"again. The next reminder is possible {date_token(throttled_until)}."
        )
        words = "The approvers were already reminded within the hour"
    elif reminded:
        shown = [mention(user) for user in reminded[:MAX_NAMED]]
        rest = len(reminded) - len(shown)
        names = ", ".join(shown) + (f" and {plural(rest, 'other')}" if rest else "")
        text = f"🔔 Reminded {names} by DM."
        words = f"Reminded {plural(len(reminded), 'approver')}"
    else:
        text = (
            "Nobody was reminded: no approvers are set for this approval's channel. Set them "
            f"with `{esc(facts.APPROVERS_HOWTO)}`."
        )
        words = "Nobody was reminded: no approvers are set"
    return SlackMessage(text=fallback(words), blocks=[SectionBlock(text=mrkdwn(text))])
