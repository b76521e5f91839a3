"""Spend policy in Slack: the card asking an admin about an agent's over-limit request,
and `/opentrain policy` (each agent's limits and what it used)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
)

from bot.agent_asks import AWAITING, PolicyRequest
from bot.cards.facts import field
from bot.cards.ids import POLICY_EVENT_TYPE, ActionId
from bot.cards.layout import confirm_dialog, plural
from bot.cards.links import safe_link
from bot.cards.message import SlackMessage, metadata
from bot.cards.text import (
    CONTEXT_ELEMENT,
    HEADER_TEXT,
    ID_DISPLAY,
    channel_ref,
    clean,
    clip,
    code,
    date_token,
    deadline,
    fallback,
    link,
    mention,
    mrkdwn,
    plain,
)
from bot.money import format_usd

MAX_AGENTS_SHOWN = 23  # two blocks each, within Slack's 50 per message

RULES = {
    "maxPerRequestUsd": "its per-request limit",
    "maxPerDayUsd": "its 24-hour limit",
    "maxPerWeekUsd": "its 7-day limit",
}

_ALLOW_CONFIRM = confirm_dialog(
    "Allow once?",
    (
        "The bot makes this one request to OpenTrain now. Nothing moves until a human "
        "confirms the approval in OpenTrain."
    ),
    "Allow once",
)


def policy_card(request: PolicyRequest, *, now: datetime) -> SlackMessage:
    """The card in POLICY_CHANNEL: the agent, what it asks, the rule and its usage; and,
    while it waits, Allow once / Refuse (admins only)."""
    agent = clip(request.agent, ID_DISPLAY)
    requested = _usd(request.requested_usd) if request.requested_usd is not None else "unknown"
    rule = RULES.get(request.rule, request.rule)
    blocks: list[Block] = [
        HeaderBlock(text=plain(f"Agent {agent} asks to go over {rule}", HEADER_TEXT)),
        SectionBlock(text=plain(f"Agent {agent} asks to {request.what}.")),
        SectionBlock(
            fields=[
                field(f"*This request*\n{requested}"),
                field(f"*Limit*\n{_usd(request.limit_usd)}"),
                field(f"*Already used*\n{_usd(request.used_usd)}"),
                field(f"*Rule*\n{code(request.rule)}"),
            ]
        ),
    ]
    if request.ask.note:
        blocks.append(SectionBlock(text=plain(f"“{clean(request.ask.note, multiline=True)}”")))
    blocks.append(ContextBlock(elements=[mrkdwn(f"Request {code(request.request_id)}")]))
    if request.deciders and request.status == AWAITING:
        who = ", ".join(map(mention, request.deciders))
        line = f"Decided by {who}: the admins of the approver tier for {request.tier}."
        blocks.append(ContextBlock(elements=[mrkdwn(line)]))
    blocks.append(SectionBlock(text=mrkdwn(_status(request, now))))
    if request.status == AWAITING:
        blocks.append(
            ActionsBlock(
                elements=[
                    ButtonElement(
                        text=PlainTextObject(text="Allow once", emoji=True),
                        action_id=ActionId.ALLOW_POLICY_REQUEST,
                        value=request.request_id,
                        style="primary",
                        confirm=_ALLOW_CONFIRM,
                    ),
                    ButtonElement(
                        text=PlainTextObject(text="Refuse", emoji=True),
                        action_id=ActionId.REFUSE_POLICY_REQUEST,
                        value=request.request_id,
                        style="danger",
                    ),
                ]
            )
        )
    return SlackMessage(
        text=fallback(f"Agent {request.agent} asks to go over {rule}: {request.what}"),
        blocks=blocks,
        metadata=metadata(POLICY_EVENT_TYPE, requestId=request.request_id, status=request.status),
    )


def _status(request: PolicyRequest, now: datetime) -> str:
    by = mention(request.decided_by) if request.decided_by else "an admin"
    if request.decided_at is not None:
        by += f" {date_token(request.decided_at)}"
    match request.status:
        case "allowed":
            line = f"✅ *Allowed once* by {by}"
            if request.error:
                problem = code(str(request.error.get("reason") or request.error.get("code")))
                return f"{line}\n⚠️ OpenTrain refused the request ({problem}); nothing was asked."
            if request.contract_ended:
                return f"{line}\n🏁 The contract held no escrow and ended at once."
            permalink = safe_link(request.card_permalink)
            if permalink is not None:
                return f"{line} · {link(permalink, 'the co-sign card')}"
            if request.card_channel:
                return f"{line} · the co-sign card is in {channel_ref(request.card_channel)}"
            return line
        case "refused":
            return f"🚫 *Refused* by {by}. Nothing reached OpenTrain."
        case "expired":
            return "⌛ *Expired*: no admin answered within 24 h. Nothing reached OpenTrain."
    return (
        "⏳ *Waiting for an admin.* Nothing reaches OpenTrain unless one allows it; this "
        f"request {deadline(request.expires_at, now)}."
    )


@dataclass(frozen=True)
class AgentRow:
    """One agent in `/opentrain policy`: its effective limits and what it used."""

    agent: str
    limits: Sequence[str]
    requests_24h: int
    used_24h: Decimal
    used_7d: Decimal


def policy_view(rows: Sequence[AgentRow], *, source: str | None) -> SlackMessage:
    where = f"from {code(source)}" if source else "the built-in default (no AGENT_POLICY_FILE set)"
    blocks: list[Block] = [
        HeaderBlock(text="Agents' spend policy"),
        SectionBlock(text=mrkdwn(f"The policy in force is {where}.")),
    ]
    if not rows:
        blocks.append(SectionBlock(text=mrkdwn("No agents are configured (AGENT_TOKENS).")))
    for row in rows[:MAX_AGENTS_SHOWN]:
        usage = (
            f"Used: {plural(row.requests_24h, 'request')} · {format_usd(row.used_24h)} in 24 h · "
            f"{format_usd(row.used_7d)} in 7 days"
        )
        blocks.append(SectionBlock(text=plain(f"{clip(row.agent, ID_DISPLAY)}: {usage}")))
        blocks.append(ContextBlock(elements=[plain(" · ".join(row.limits), CONTEXT_ELEMENT)]))
    if len(rows) > MAX_AGENTS_SHOWN:
        more = len(rows) - MAX_AGENTS_SHOWN
        blocks.append(ContextBlock(elements=[plain(f"… and {plural(more, 'more agent')}.")]))
    return SlackMessage(text=fallback(f"Agents' spend policy ({len(rows)} agents)"), blocks=blocks)


def _usd(value: Decimal | None) -> str:
    return format_usd(value) if value is not None else "—"
