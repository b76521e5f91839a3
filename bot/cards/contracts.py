"""Contracts and their milestones: the list, one contract in full, and the buttons that act on them.

Everything here comes from OpenTrain, yet titles, milestone names and the
freelancer's display name were typed by people, so they are shown as plain text
or escaped like any other free text.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    HeaderBlock,
    PlainTextObject,
    SectionBlock,
    TextObject,
)

from bot.cards import facts
from bot.cards.ids import ActionId
from bot.cards.layout import confirm_dialog, packed_sections, plural, within_budget
from bot.cards.links import opentrain_link
from bot.cards.lists import ENTRY_TEXT, MAX_LISTED
from bot.cards.message import SlackMessage
from bot.cards.text import (
    BUTTON_TEXT,
    BUTTON_VALUE,
    CONTEXT_ELEMENT,
    HEADER_TEXT,
    SECTION_FIELD,
    clean,
    clip,
    code,
    esc,
    fallback,
    link,
    mrkdwn,
    plain,
)
from bot.money import format_usd
from bot.opentrain.models import Contract, ContractBudget, Milestone

# The two milestone statuses OpenTrain documents; others (paid, cancelled…) are shown as sent.
NOT_FUNDED = "NOT_FUNDED"
ACTIVE_FUNDED = "ACTIVE_FUNDED"
_MILESTONE_STATES = {NOT_FUNDED: ("⚪", "not funded"), ACTIVE_FUNDED: ("🔒", "funded")}
_OTHER_MARKER = "▫️"

_PAYMENT_TYPES = {
    # The hiring guide shows "FIXED" where the reference says FIXED_PRICE.
    "FIXED_PRICE": "Fixed price",
    "FIXED": "Fixed price",
    "PAY_PER_HOUR": "Per hour",
    "PAY_PER_LABEL": "Per label",
}
_RATE_UNITS = {"PAY_PER_HOUR": "/h", "PAY_PER_LABEL": "/label"}
_VOLUME_UNITS = {"PAY_PER_HOUR": "h", "PAY_PER_LABEL": "labels"}
_BUDGET_MARKERS = {"OK": "✅", "LOW": "⚠️", "DEPLETED": "🛑"}
_LIST_HEADINGS = {"active": "Active contracts", "ended": "Ended contracts"}

STATUS_TEXT = 40  # statuses are short enum words; anything longer is not worth the room
NAME_TEXT = 100  # a milestone name in a list line
MAX_MILESTONES = 40  # the most recent ones; each line is short, so they pack into few sections
# What the milestone lines may take of the message's text (see `layout`): the rest of a
# contract (fields, budget, buttons) stays within about 3,000 characters.
MILESTONES_TEXT = 6_000
MAX_MILESTONE_BUTTONS = 5  # per kind (fund, payout)

_END_CONFIRM = confirm_dialog(
    "End this contract?",
    (
        "No more milestones can be added once it ends. If a milestone is still funded, a "
        "human must confirm the end in OpenTrain; otherwise it ends right away."
    ),
    "End contract",
    danger=True,
)


# --- the list --------------------------------------------------------------------


def contracts_list(
    contracts: Sequence[Contract], *, status: str | None, opentrain_host: str | None = None
) -> SlackMessage:
    """One section per contract in OpenTrain's order (newest first), each with an "Open" button.

    `opentrain_host` links each freelancer's name to their profile there; without it the name
    is shown alone.
    """
    heading = _LIST_HEADINGS.get((status or "").lower(), "Contracts")
    if not contracts:
        text = f"No {heading.lower()} on this OpenTrain account."
        return SlackMessage(
            text=text,
            blocks=[
                SectionBlock(
                    text=mrkdwn(
                        f"{text} Contracts start when a hire is confirmed: "
                        f"`{esc('/opentrain hire <proposalId>')}`."
                    )
                )
            ],
        )
    entries = [_entry(contract, opentrain_host) for contract in contracts[:MAX_LISTED]]
    shown = entries[: within_budget(entries)]
    blocks: list[Block] = [HeaderBlock(text=f"{heading} ({len(contracts)})"), *shown]
    hidden = len(contracts) - len(shown)
    if hidden:
        blocks.append(
            ContextBlock(elements=[mrkdwn(f"…and {hidden} more (the oldest).", CONTEXT_ELEMENT)])
        )
    return SlackMessage(text=fallback(f"{heading}: {len(contracts)}"), blocks=blocks)


def _entry(contract: Contract, opentrain_host: str | None) -> SectionBlock:
    return SectionBlock(
        text=plain(_title(contract), ENTRY_TEXT, multiline=False),
        fields=[
            facts.field(f"*Contract*\n{code(contract.id)}"),
            facts.field(f"*Status*\n{_status_words(contract.status)}"),
            _freelancer_field(contract, opentrain_host),
            facts.field(f"*{_payment_type(contract)}*\n{_rate(contract)}"),
            facts.field(f"*Milestones*\n{_milestones_summary(contract.milestones)}"),
        ],
        accessory=facts.value_button("Open", ActionId.OPEN_CONTRACT, contract.id),
    )


def _milestones_summary(milestones: Sequence[Milestone]) -> str:
    """Counts per status and what sits in escrow: "1 funded, 2 not funded · $300.00 in escrow"."""
    if not milestones:
        return "none yet"
    counts = Counter(milestone.status for milestone in milestones)
    parts = ", ".join(f"{count} {_milestone_state(status)[1]}" for status, count in counts.items())
    funded = sum(
        (
            m.amount_usd
            for m in milestones
            if m.status == ACTIVE_FUNDED and m.amount_usd is not None
        ),
        Decimal(0),
    )
    return f"{parts} · {format_usd(funded)} in escrow"


# --- one contract -------------------------------------------------------------------


def contract_detail(contract: Contract, *, opentrain_host: str | None = None) -> SlackMessage:
    """Everything about one contract, its milestones, and the buttons that move money on it.

    `opentrain_host` links the freelancer's name to their profile there.
    """
    title = _title(contract)
    blocks: list[Block] = [
        HeaderBlock(text=plain(title, HEADER_TEXT, multiline=False)),
        SectionBlock(fields=_detail_fields(contract, opentrain_host)),
    ]
    if contract.budget is not None:
        blocks.append(SectionBlock(text=mrkdwn(_budget_line(contract.budget, contract))))
    if contract.job_dm_conversation_id:
        blocks.append(
            ContextBlock(
                elements=[
                    mrkdwn(
                        "Conversation with the freelancer since the hire: "
                        f"{code(contract.job_dm_conversation_id)}",
                        CONTEXT_ELEMENT,
                    )
                ]
            )
        )
    ordered = sorted(contract.milestones, key=_milestone_order)
    blocks += _milestone_blocks(ordered, contract)
    if _is_active(contract):
        blocks += _action_blocks(ordered, contract)
    return SlackMessage(
        text=fallback(f"{title} — {clean(contract.status)} — {plural(len(ordered), 'milestone')}"),
        blocks=blocks,
    )


def _detail_fields(contract: Contract, opentrain_host: str | None) -> list[TextObject]:
    fields: list[TextObject] = [
        facts.field(f"*Status*\n{_status_words(contract.status)}"),
        facts.field(f"*Contract*\n{code(contract.id)}"),
    ]
    if contract.job_id:
        fields.append(facts.field(f"*Job*\n{code(contract.job_id)}"))
    fields += [
        _freelancer_field(contract, opentrain_host),
        facts.field(f"*Payment type*\n{_payment_type(contract)}"),
        facts.field(f"*Rate*\n{_rate(contract)}"),
    ]
    if contract.estimated_total_usd is not None:
        fields.append(facts.field(f"*Estimated total*\n{format_usd(contract.estimated_total_usd)}"))
    if contract.start_date is not None:
        fields.append(facts.field(f"*Started*\n{_day(contract.start_date)}"))
    if contract.end_date is not None:
        fields.append(facts.field(f"*Ended*\n{_day(contract.end_date)}"))
    return fields


def _budget_line(budget: ContractBudget, contract: Contract) -> str:
    state = clean(budget.state).upper()
    parts = [f"{_BUDGET_MARKERS.get(state, _OTHER_MARKER)} *Budget {esc(clip(state, 20))}*"]
    if budget.funded_amount_usd is not None:
        parts.append(f"{format_usd(budget.funded_amount_usd)} funded")
    # Consumption is metered for hourly and per-label contracts only; fixed price is always OK.
    unit = _VOLUME_UNITS.get(budget.payment_type or contract.payment_type or "")
    if unit and budget.consumed_fraction is not None:
        parts.append(f"{budget.consumed_fraction * 100:.0f} % consumed")
    if unit and budget.remaining_volume is not None:
        parts.append(f"{_number(budget.remaining_volume)} {unit} remaining")
    active = budget.active_milestone
    if active is not None:
        parts.append(f"active milestone {esc(clip(active.name or active.id, NAME_TEXT))}")
    return " · ".join(parts)


def _milestone_blocks(ordered: Sequence[Milestone], contract: Contract) -> list[Block]:
    if not ordered:
        return [SectionBlock(text=mrkdwn("*Milestones*\nNone yet."))]
    shown = ordered[-MAX_MILESTONES:]
    lines = [f"*Milestones ({len(ordered)})*"]
    earlier = len(ordered) - len(shown)
    if earlier:
        lines.append(f"_{plural(earlier, 'earlier milestone')} not shown — see OpenTrain._")
    lines += [_milestone_line(milestone, contract) for milestone in shown]
    return packed_sections(
        lines,
        budget=MILESTONES_TEXT,
        more=lambda hidden: f"…and {plural(hidden, 'more milestone')} — see OpenTrain.",
    )


def _milestone_line(milestone: Milestone, contract: Contract) -> str:
    marker, words = _milestone_state(milestone.status)
    number = f"*#{milestone.milestone_number}* " if milestone.milestone_number is not None else ""
    name = esc(clip(clean(milestone.name or "Untitled"), NAME_TEXT))
    parts = [f"{marker} {number}{name}", words, _milestone_amount(milestone, contract)]
    if milestone.due_date is not None:
        parts.append(f"due {_day(milestone.due_date)}")
    if milestone.pending_approval:
        parts.append("payout requested")
    if milestone.needs_review:
        parts.append("needs review")
    parts.append(code(milestone.id))
    return " — ".join(parts)


def _action_blocks(ordered: Sequence[Milestone], contract: Contract) -> list[Block]:
    """The buttons of an active contract.

    Slack wants action ids unique within a block, and every Fund (or payout)
    button shares one id, so each gets an actions block of its own.
    """
    fundable = [m for m in ordered if m.status == NOT_FUNDED][:MAX_MILESTONE_BUTTONS]
    payable = [m for m in ordered if m.status == ACTIVE_FUNDED][:MAX_MILESTONE_BUTTONS]
    blocks: list[Block] = [
        ActionsBlock(elements=[_milestone_button("Fund", ActionId.FUND_MILESTONE, m, contract)])
        for m in fundable
    ]
    blocks += [
        ActionsBlock(
            elements=[_milestone_button("Request payout", ActionId.REQUEST_PAYOUT, m, contract)]
        )
        for m in payable
    ]
    end = ButtonElement(
        text=PlainTextObject(text="End contract", emoji=True),
        action_id=ActionId.END_CONTRACT,
        value=clip(contract.id, BUTTON_VALUE),
        style="danger",
        confirm=_END_CONFIRM,
    )
    blocks.append(ActionsBlock(elements=[facts.add_milestone_button(contract.id), end]))
    return blocks


def _milestone_button(
    verb: str, action_id: ActionId, milestone: Milestone, contract: Contract
) -> ButtonElement:
    if milestone.milestone_number is not None:
        which = f"#{milestone.milestone_number}"
    else:
        which = clip(clean(milestone.name or milestone.id), 30)
    label = clip(f"{verb} {which} · {_milestone_amount(milestone, contract)}", BUTTON_TEXT)
    return facts.value_button(label, action_id, milestone.id)


# --- shared wording -----------------------------------------------------------------


def _title(contract: Contract) -> str:
    return clean(contract.title or "") or f"Contract {clean(contract.id)}"


def _is_active(contract: Contract) -> bool:
    return contract.status.lower() == "active"


def _status_words(status: str) -> str:
    return esc(clip(clean(status), STATUS_TEXT)) or "unknown"


def _payment_type(contract: Contract) -> str:
    raw = contract.payment_type or ""
    return _PAYMENT_TYPES.get(raw) or esc(clip(clean(raw), STATUS_TEXT)) or "Payment"


def _rate(contract: Contract) -> str:
    if contract.rate_usd is None:
        return "not set"
    return format_usd(contract.rate_usd) + _RATE_UNITS.get(contract.payment_type or "", "")


def _freelancer_field(contract: Contract, opentrain_host: str | None) -> TextObject:
    """The freelancer by name, linked to their OpenTrain profile when it is on the host."""
    freelancer = contract.freelancer
    if freelancer is None or not freelancer.display_name:
        return facts.field("*Freelancer*\nnot shown by OpenTrain")
    name = clip(clean(freelancer.display_name), NAME_TEXT)
    profile = opentrain_link(opentrain_host, freelancer.profile_path) if opentrain_host else None
    if profile is not None:
        return facts.field(f"*Freelancer*\n{link(profile, name)}")  # `link` escapes the name
    # Plain text: the display name is the freelancer's own typing.
    return plain(f"Freelancer: {name}", SECTION_FIELD, multiline=False)


def _milestone_state(status: str) -> tuple[str, str]:
    known = _MILESTONE_STATES.get(status)
    if known is not None:
        return known
    return _OTHER_MARKER, esc(clip(clean(status).lower().replace("_", " "), STATUS_TEXT))


def _milestone_amount(milestone: Milestone, contract: Contract) -> str:
    if milestone.amount_usd is not None:
        return format_usd(milestone.amount_usd)
    unit = _VOLUME_UNITS.get(contract.payment_type or "")
    if milestone.volume is not None and unit:
        return f"{_number(milestone.volume)} {unit}"
    return "amount not set"


def _milestone_order(milestone: Milestone) -> tuple[bool, int]:
    # Milestones without a number (never seen, but optional on the wire) go last.
    number = milestone.milestone_number
    return (number is None, number or 0)


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _day(at: datetime) -> str:
    """A calendar day as stored (due dates are midnight UTC), so no time zone can shift it."""
    return f"{at.astimezone(UTC):%Y-%m-%d}"
