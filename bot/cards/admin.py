"""Settings as they stand: who is reminded (approvers) and where cards go (routes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from slack_sdk.models.blocks import Block, ContextBlock, HeaderBlock, SectionBlock

from bot.cards.layout import packed_sections, plural
from bot.cards.message import SlackMessage
from bot.cards.text import CONTEXT_ELEMENT, channel_ref, code, esc, fallback, mention, mrkdwn
from bot.opentrain.models import ApprovalType

GLOBAL = "global"  # the approvers key that is not a channel
APPROVERS_USAGE = "/opentrain approvers [set|add|remove] [#channel|global] @user @group…"
ROUTE_USAGE = "/opentrain route <jobId|hire|fund|payout|end> #channel"

_ROUTED_TYPES = {
    ApprovalType.PROPOSAL_HIRE.value: "Hire requests",
    ApprovalType.MILESTONE_FUND.value: "Funding requests",
    ApprovalType.MILESTONE_APPROVE.value: "Payout requests",
    ApprovalType.CONTRACT_END.value: "Contract ends",
}


def approvers_view(approvers: Mapping[str, Sequence[str]], *, channel_id: str) -> SlackMessage:
    """This channel's approvers first, then the global list, then every other channel's."""
    howto = f"Change them with `{esc(APPROVERS_USAGE)}`."
    if not any(approvers.values()):
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
    others = sorted(key for key in approvers if key not in (channel_id, GLOBAL))
    lines = [
        f"*This channel* ({channel_ref(channel_id)}): {_members(approvers.get(channel_id, ()))}",
        f"*Global*: {_members(approvers.get(GLOBAL, ()))}",
        *(f"{channel_ref(key)}: {_members(approvers[key])}" for key in others),
    ]
    blocks: list[Block] = [
        HeaderBlock(text="Approvers"),
        *packed_sections(lines, more=lambda hidden: f"…and {plural(hidden, 'more channel')}."),
        ContextBlock(
            elements=[
                mrkdwn(f"Approvers get a DM before an approval expires. {howto}", CONTEXT_ELEMENT)
            ]
        ),
    ]
    configured = sum(1 for members in approvers.values() if members)
    return SlackMessage(
        text=fallback(f"Approvers are set for {plural(configured, 'scope')}."), blocks=blocks
    )


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
