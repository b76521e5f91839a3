"""Settings as they stand: who is reminded (approvers) and where cards go (routes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.approver_tiers import GLOBAL, ScopeTiers, Tier
from bot.cards.layout import packed_sections, plural
from bot.cards.message import SlackMessage
from bot.cards.text import CONTEXT_ELEMENT, channel_ref, code, esc, fallback, mention, mrkdwn
from bot.durations import delay_words
from bot.money import format_usd
from bot.opentrain.models import ApprovalType

APPROVERS_USAGE = (
    "/opentrain approvers [set|add|remove] [#channel|global] [over <amount>] @user @group…"
)
ESCALATE_USAGE = "/opentrain approvers escalate [#channel|global] [over <amount>] after 24h|off"
ROUTE_USAGE = "/opentrain route <jobId|hire|fund|payout|end> #channel"

_ROUTED_TYPES = {
    ApprovalType.PROPOSAL_HIRE.value: "Hire requests",
    ApprovalType.MILESTONE_FUND.value: "Funding requests",
    ApprovalType.MILESTONE_APPROVE.value: "Payout requests",
    ApprovalType.CONTRACT_END.value: "Contract ends",
}


def approvers_view(
    scopes: Mapping[str, ScopeTiers], *, channel_id: str, escalate_after: timedelta | None
) -> SlackMessage:
    """This channel's tiers first, then the global ones, then every other channel's."""
    howto = f"Change them with `{esc(APPROVERS_USAGE)}`; escalation with `{esc(ESCALATE_USAGE)}`."
    if not any(tiers.tiers for tiers in scopes.values()):
        return SlackMessage(
            text="No approvers are set, so nobody is reminded before approvals expire.",
            blocks=[
                HeaderBlock(text="Approvers"),
                SectionBlock(
                    text=mrkdwn(
                        "⚠️ *No approvers are set*, so nobody is reminded before an approval "
                        f"expires. {howto}"
                    )
                ),
            ],
        )
    others = sorted(key for key in scopes if key not in (channel_id, GLOBAL))
    empty = ScopeTiers()

    def scope_lines(title: str, key: str) -> str:
        tiers = scopes.get(key, empty).tiers
        shown = [_tier_line(tier, escalate_after) for tier in tiers] or ["none set"]
        if len(shown) == 1 and not (tiers and tiers[0].over):
            return f"{title}: {shown[0]}"  # one tier for every amount, or none
        return "\n".join([f"{title}:", *(f"• {line}" for line in shown)])

    lines = [
        scope_lines(f"*This channel* ({channel_ref(channel_id)})", channel_id),
        scope_lines("*Global*", GLOBAL),
        *(scope_lines(channel_ref(key), key) for key in others),
    ]
    escalation = "Escalation is off unless a tier sets it (ESCALATE_AFTER is not set)."
    if escalate_after:
        after = delay_words(escalate_after)
        escalation = f"Nobody acting for {after} escalates to the next tier (ESCALATE_AFTER)."
    blocks: list[Block] = [
        HeaderBlock(text="Approvers"),
        *packed_sections(lines, more=lambda hidden: f"…and {plural(hidden, 'more channel')}."),
        ContextBlock(
            elements=[
                mrkdwn(
                    "A request goes to the highest tier its amount reaches (a hire: with fees); "
                    f"a channel's tiers replace the global ones from its lowest up. {escalation} "
                    f"Approvers get a DM before an approval expires. {howto}",
                    CONTEXT_ELEMENT,
                )
            ]
        ),
    ]
    configured = sum(1 for tiers in scopes.values() if tiers.tiers)
    return SlackMessage(
        text=fallback(f"Approvers are set for {plural(configured, 'scope')}."), blocks=blocks
    )


def _tier_line(tier: Tier, escalate_after: timedelta | None) -> str:
    """ "$1,000.00 and more: @finance — escalates after 12 h; decides agents: @cfo"."""
    amounts = f"{format_usd(tier.over)} and more: " if tier.over else ""
    line = amounts + _members(tier.members)
    delay = tier.delay(escalate_after)
    if tier.never_escalate:
        line += " — never escalates"
    elif tier.escalate_after is not None and delay is not None:
        line += f" — escalates after {delay_words(delay)}"
    if tier.admins:
        line += f" — agents' requests over a limit decided by {_members(tier.admins)}"
    return line


def routes_view(routes: Mapping[str, str]) -> SlackMessage:
    """Every route, sorted by key (`job:…` before `type:…`), with the precedence rule."""
    howto = f"Add one with `{esc(ROUTE_USAGE)}`."
    if not routes:
        return SlackMessage(
            text="No routes are set.",
            blocks=[
                HeaderBlock(text="Where cards go"),
                SectionBlock(
                    text=mrkdwn(
                        "No routes are set: a card goes to the channel its request came from, "
                        f"or to DEFAULT_CHANNEL when the request names none. {howto}"
                    )
                ),
            ],
        )
    lines = [
        f"• {_route_target(key)} → {channel_ref(channel)}"
        for key, channel in sorted(routes.items())
    ]
    blocks: list[Block] = [
        HeaderBlock(text=f"Where cards go ({len(routes)})"),
        *packed_sections(lines, more=lambda hidden: f"…and {plural(hidden, 'more route')}."),
        ContextBlock(
            elements=[
                mrkdwn(
                    "Routes place cards whose request names no channel (agent requests): a "
                    "job's route wins over its type's; with neither, DEFAULT_CHANNEL. "
                    f"{howto} Forget one with `{esc('/opentrain route remove <key>')}`.",
                    CONTEXT_ELEMENT,
                )
            ]
        ),
    ]
    return SlackMessage(text=fallback(f"{plural(len(routes), 'route')} set."), blocks=blocks)


def _members(members: Sequence[str]) -> str:
    return ", ".join(map(mention, members)) if members else "none set"


def _route_target(key: str) -> str:
    kind, _, value = key.partition(":")
    if kind == "job" and value:
        return f"Job {code(value)}"
    if kind == "type" and value in _ROUTED_TYPES:
        return f"{_ROUTED_TYPES[value]} ({code(value)})"
    return code(key)
