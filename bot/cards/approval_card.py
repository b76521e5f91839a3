"""Messages about one approval: the card, its thread reply, and the DMs around it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    LinkButtonElement,
    SectionBlock,
    TextObject,
)

from bot.cards import facts, outcomes
from bot.cards.ids import (
    APPROVAL_EVENT_TYPE,
    OUTCOME_EVENT_TYPE,
    REMINDER_EVENT_TYPE,
    REQUESTER_DM_EVENT_TYPE,
    ActionId,
)
from bot.cards.links import approval_link_allowed, safe_link
from bot.cards.message import SlackMessage, metadata
from bot.cards.text import (
    CONTEXT_ELEMENT,
    HEADER_TEXT,
    channel_ref,
    code,
    date_token,
    deadline,
    esc,
    fallback,
    link,
    mrkdwn,
    plain,
    utc_words,
)
from bot.durations import delay_words
from bot.opentrain.models import ApprovalType
from bot.tracked_approvals import Escalation, TrackedApproval, TrackedStatus

# Why a card could not be posted, in words the requester can act on (Slack error codes).
_CHANNEL_PROBLEMS = {
    "not_in_channel": "I am not a member of that channel — invite me to it.",
    "channel_not_found": "That channel no longer exists, or it is private and I am not in it.",
    "is_archived": "That channel is archived.",
    "no_channel": "No channel was chosen for it.",
    "delivery_unsure": (
        "Slack did not answer when I posted it, and the channel then got too busy for me to "
        "check whether it arrived. If you find it there, it works as usual; if not, here it is."
    ),
}
_ROUTE_HOWTO = "/opentrain route <jobId|type> #channel"


def approval_card(
    approval: TrackedApproval,
    *,
    now: datetime,
    opentrain_host: str,
    approvers: Sequence[str] = (),
    requester_alone: bool = False,
    approvers_label: str = "Approvers",
    card_permalink: str | None = None,
) -> SlackMessage:
    """The card in the channel: what is asked, what it costs, who asked, and where it stands.

    `requester_alone`: the requester is the only approver configured (four eyes: the
    card says so, and the admins are reminded instead). `approvers_label` names the
    approval's tier ("Approvers for $1,000.00 and more").
    """
    blocks = _card_body(
        approval,
        now=now,
        approvers=approvers,
        requester_alone=requester_alone,
        approvers_label=approvers_label,
    )
    if approval.status is TrackedStatus.PENDING:
        blocks += facts.review_blocks(
            approval,
            opentrain_host,
            extra=[
                facts.value_button(
                    "Remind approvers", ActionId.REMIND_APPROVERS, approval.approval_id
                )
            ],
        )
    blocks += _original_card(card_permalink)
    return SlackMessage(
        text=fallback(
            f"{facts.title(approval)} — {facts.money_summary(approval)} — "
            f"{outcomes.status_words(approval, now)}"
        ),
        blocks=blocks,
        metadata=metadata(APPROVAL_EVENT_TYPE, approvalId=approval.approval_id),
    )


def outcome_reply(approval: TrackedApproval, *, now: datetime) -> SlackMessage:
    """The one thread reply under the card once the approval resolved, mentioning the requester."""
    if approval.status is TrackedStatus.PENDING:
        raise ValueError(f"approval {approval.approval_id} has not resolved yet")
    outcome = outcomes.OUTCOMES[approval.status]
    # Posted as it resolves: without OpenTrain's resolvedAt, the moment we noticed is as good.
    resolved_at = approval.resolved_at or now
    headline = (
        f"{outcome.emoji} *{outcome.headline}* {date_token(resolved_at)} — requested by "
        f"{facts.requester_ref(approval)}"
    )
    detail = outcomes.outcome_detail(approval)
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(f"{headline}\n{detail}" if detail else headline)),
        SectionBlock(text=plain(f"{facts.title(approval)} — {facts.money_summary(approval)}")),
    ]
    if approval.status is TrackedStatus.CONFIRMED:
        blocks += outcomes.result_blocks(approval)
    elif approval.status in (TrackedStatus.DECLINED, TrackedStatus.EXPIRED):
        blocks.append(ActionsBlock(elements=[facts.request_again_button(approval)]))
    said = outcomes.outcome_detail(approval, markup=False) or outcomes.aftermath(
        approval.type, approval.status
    )
    return SlackMessage(
        text=fallback(f"{outcome.headline}: {facts.title(approval)}. {said}".strip()),
        blocks=blocks,
        metadata=metadata(
            OUTCOME_EVENT_TYPE, approvalId=approval.approval_id, status=approval.status.value
        ),
    )


def requester_dm(
    approval: TrackedApproval,
    *,
    now: datetime,
    reason: Literal["expired", "channel_unavailable"],
    channel_error: str | None,
    opentrain_host: str | None = None,
) -> SlackMessage:
    """A DM to the requester: their request expired, or its channel could not take the card.

    `opentrain_host` adds the review button to the channel-unavailable DM
    (same host rule as the card); without it the DM describes the request only.
    """
    title = facts.title(approval)
    dm_metadata = metadata(REQUESTER_DM_EVENT_TYPE, approvalId=approval.approval_id, reason=reason)
    if reason == "expired":
        said = outcomes.aftermath(approval.type, TrackedStatus.EXPIRED)
        expired_at = approval.resolved_at or approval.expires_at
        return SlackMessage(
            text=fallback(
                f"Your OpenTrain request expired {utc_words(expired_at)}: {title}. {said}"
            ),
            blocks=[
                SectionBlock(
                    text=mrkdwn(
                        f"⌛ *Your OpenTrain request expired* {date_token(expired_at)}. {said}"
                    )
                ),
                SectionBlock(text=plain(f"{title} — {facts.money_summary(approval)}")),
                facts.ids_context(approval),
                ActionsBlock(elements=[facts.request_again_button(approval)]),
            ],
            metadata=dm_metadata,
        )
    intro = _channel_problem(approval, channel_error, "so here it is")
    blocks: list[Block] = [SectionBlock(text=mrkdwn(intro)), *_card_body(approval, now=now)]
    if opentrain_host is not None and approval.status is TrackedStatus.PENDING:
        blocks += facts.review_blocks(approval, opentrain_host)
    return SlackMessage(
        text=fallback(f"I couldn't post the card for your request in its channel: {title}"),
        blocks=blocks,
        metadata=dm_metadata,
    )


def requester_dm_retired(approval: TrackedApproval, *, channel_error: str | None) -> SlackMessage:
    """The channel-unavailable DM once its approval ended, in place of its review button.

    With no card in a channel there is no thread reply either, so this says what the reply
    would: how and when it ended, what a confirmation produced (and the next step), and
    "Request again" after a decline or an expiry.
    """
    _require_ended(approval)
    title = facts.title(approval)
    blocks: list[Block] = [
        SectionBlock(text=mrkdwn(_channel_problem(approval, channel_error, "so it came here"))),
        SectionBlock(text=plain(f"{title} — {facts.money_summary(approval)}")),
        SectionBlock(text=mrkdwn(outcomes.outcome_line(approval))),
        facts.ids_context(approval),
    ]
    if approval.status is TrackedStatus.CONFIRMED:
        blocks += outcomes.result_blocks(approval)
    elif approval.status in (TrackedStatus.DECLINED, TrackedStatus.EXPIRED):
        blocks.append(ActionsBlock(elements=[facts.request_again_button(approval)]))
    return SlackMessage(
        text=fallback(f"Your OpenTrain request {title}: {outcomes.outcome_words(approval)}"),
        blocks=blocks,
        metadata=metadata(
            REQUESTER_DM_EVENT_TYPE,
            approvalId=approval.approval_id,
            reason="channel_unavailable",
            status=approval.status.value,
        ),
    )


def reminder_dm(
    approval: TrackedApproval,
    *,
    now: datetime,
    opentrain_host: str,
    card_permalink: str | None,
    final: bool,
    escalation: int | None = None,
) -> SlackMessage:
    """A DM to one approver before expiry: what, how much, who asked, by when, and the link.

    `escalation`: the level of `approval.escalations` this DM tells (nobody acted)."""
    kind = "Last reminder" if final else "Reminder"
    headline = f"⏰ *{kind}:* this is waiting"
    escalated = next((e for e in approval.escalations if e.level == escalation), None)
    if escalated is not None:
        kind = "Escalated to you"
        waited = delay_words(escalated.waited)
        headline = f"⏫ *{kind}:* nobody has acted on this for {waited}; it is waiting"
    blocks: list[Block] = [
        HeaderBlock(text=plain(facts.title(approval), HEADER_TEXT, multiline=False)),
        SectionBlock(
            text=mrkdwn(
                f"{headline} for a human to confirm in OpenTrain and "
                f"{deadline(approval.expires_at, now)}."
            )
        ),
    ]
    money = facts.money_fields(approval)
    if money:
        blocks.append(SectionBlock(fields=money))
    blocks += facts.requester_blocks(approval)
    extra: list[ButtonElement] = []
    permalink = safe_link(card_permalink)
    if permalink is not None:
        extra.append(
            LinkButtonElement(text="View card", url=permalink, action_id=ActionId.OPEN_CARD)
        )
    if not final:
        extra.append(
            facts.value_button("Snooze 4 h", ActionId.SNOOZE_REMINDER, approval.approval_id)
        )
    blocks += facts.review_blocks(approval, opentrain_host, extra=extra)
    return SlackMessage(
        text=fallback(
            f"{kind}: {facts.title(approval)} ({facts.money_summary(approval)}) "
            f"{deadline(approval.expires_at, now, markup=False)}"
        ),
        blocks=blocks,
        metadata=metadata(
            REMINDER_EVENT_TYPE,
            approvalId=approval.approval_id,
            final=final,
            **({"escalation": escalated.level} if escalated else {}),
        ),
    )


def reminder_dm_retired(
    approval: TrackedApproval, *, permalink: str | None, opentrain_host: str, final: bool = False
) -> SlackMessage:
    """A reminder DM's final text once its approval ended: how and when it ended, what that
    means, and links to read more — no button left to confirm or snooze something over.
    Its metadata still says which reminder it was (`final`)."""
    _require_ended(approval)
    title = facts.title(approval)
    links: list[str] = []
    card_url = safe_link(permalink)
    if card_url is not None:
        links.append(link(card_url, "View the card"))
    if approval_link_allowed(approval.approval_url, opentrain_host):
        links.append(link(approval.approval_url, "See it in OpenTrain"))
    context: list[TextObject] = [plain(facts.money_summary(approval), CONTEXT_ELEMENT)]
    if links:
        context.append(mrkdwn(" · ".join(links), CONTEXT_ELEMENT))
    return SlackMessage(
        text=fallback(f"No longer waiting: {title} — {outcomes.outcome_words(approval)}"),
        blocks=[
            HeaderBlock(text=plain(title, HEADER_TEXT, multiline=False)),
            SectionBlock(text=mrkdwn(outcomes.outcome_line(approval))),
            ContextBlock(elements=context),
        ],
        metadata=metadata(
            REMINDER_EVENT_TYPE,
            approvalId=approval.approval_id,
            final=final,
            status=approval.status.value,
        ),
    )


def escalation_reply(escalation: Escalation) -> SlackMessage:
    """The one thread line under the card when nobody acted and the next level was told."""
    waited, told = delay_words(escalation.waited), facts.escalated_to(escalation)
    text = f"⏫ Nobody has acted on this for {waited}, so it was escalated to {told}."
    short = f"Nobody has acted on this for {waited}: escalated to the next approvers."
    return SlackMessage(text=fallback(short), blocks=[ContextBlock(elements=[mrkdwn(text)])])


def unfurl_blocks(
    approval: TrackedApproval, *, now: datetime, opentrain_host: str
) -> list[dict[str, Any]]:
    """The card as `chat.unfurl` wants it (`unfurls={url: {"blocks": …}}`) under a pasted link.

    The unfurl sits in whatever channel the link was pasted in, so it leaves out
    the approvers line and the remind button (both belong to the card's own
    channel) and points to the original card instead.
    """
    blocks = _card_body(approval, now=now)
    if approval.status is TrackedStatus.PENDING:
        blocks += facts.review_blocks(approval, opentrain_host)
    blocks += _original_card(approval.card_permalink)
    return [block.to_dict() for block in blocks]


def composer_preview(approval_id: str) -> list[dict[str, Any]]:
    """The preview under an approval link someone is still typing (Slack's composer): read
    only — nothing is tracked or posted until the message is sent in a channel."""
    text = (
        f"🔏 *OpenTrain approval* {code(approval_id)}\nSend the message and I'll post its "
        "approval card in this channel."
    )
    return [SectionBlock(text=mrkdwn(text)).to_dict()]


def _require_ended(approval: TrackedApproval) -> None:
    if approval.status is TrackedStatus.PENDING:
        raise ValueError(f"approval {approval.approval_id} has not ended yet")


def _channel_problem(approval: TrackedApproval, channel_error: str | None, so: str) -> str:
    """Why the requester got the card by DM, and how to send such cards elsewhere."""
    where = channel_ref(approval.channel_id) if approval.channel_id else "its channel"
    why = f" ({code(channel_error)})" if channel_error else ""
    problem = _CHANNEL_PROBLEMS.get(channel_error or "", "")
    return (
        f"⚠️ *I couldn't post the card for your request in {where}*{why}, {so}. "
        f"{problem} To send these requests elsewhere: `{esc(_ROUTE_HOWTO)}`."
    )


def _original_card(card_permalink: str | None) -> list[Block]:
    permalink = safe_link(card_permalink)
    if permalink is None:
        return []
    return [
        ContextBlock(elements=[mrkdwn(link(permalink, "View the original card"), CONTEXT_ELEMENT)])
    ]


def _card_body(
    approval: TrackedApproval,
    *,
    now: datetime,
    approvers: Sequence[str] | None = None,
    requester_alone: bool = False,
    approvers_label: str = "Approvers",
) -> list[Block]:
    """Everything the card says, without its buttons; `approvers=None` leaves that line out."""
    pending = approval.status is TrackedStatus.PENDING
    blocks: list[Block] = [
        HeaderBlock(text=plain(facts.title(approval), HEADER_TEXT, multiline=False))
    ]
    money = facts.money_fields(approval)
    if money:
        blocks.append(SectionBlock(fields=money))
    if pending and approval.type is ApprovalType.PROPOSAL_HIRE:
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(
                        "Nothing is charged until a human confirms in OpenTrain. They choose card "
                        "or credit balance there and may adjust the milestone; the confirmed "
                        "values win."
                    )
                ]
            )
        )
    blocks.append(facts.ids_context(approval))
    blocks += facts.requester_blocks(approval)
    if pending and approvers is not None:
        alone = approval if requester_alone else None
        blocks.append(facts.approvers_block(approvers, alone, label=approvers_label))
    if pending and approval.escalations:
        blocks.append(facts.escalations_context(approval))
    blocks.append(SectionBlock(text=mrkdwn(outcomes.status_text(approval, now))))
    if approval.status is TrackedStatus.CONFIRMED:
        blocks += outcomes.result_blocks(approval)
    return blocks
