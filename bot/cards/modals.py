"""The hire and milestone modals, and the reply once a milestone exists."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TypeGuard

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    DatePickerElement,
    HeaderBlock,
    InputBlock,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
)
from slack_sdk.models.blocks.basic_components import DispatchActionConfig
from slack_sdk.models.views import View

from bot.cards import facts
from bot.cards.ids import ActionId, BlockId, CallbackId
from bot.cards.message import SlackMessage
from bot.cards.text import HEADER_TEXT, clean, clip, code, esc, fallback, mrkdwn, plain
from bot.money import CONTRACT_INITIATION_FEE, format_usd, hire_cost

# OpenTrain documents no length limits for milestones; these keep a modal
# submission inside what a Slack input can hold and what a card can show.
NAME_MAX = 200
DESCRIPTION_MAX = 3000
AMOUNT_MAX_CHARS = 20
PRIVATE_METADATA_MAX = 3000


def hire_modal(
    *,
    proposal_id: str,
    name: str = "",
    description: str = "",
    amount: Decimal | None = None,
    due_date: date | None = None,
    freelancer_name: str | None = None,
    private_metadata: str,
    errors_note: str | None = None,
    amount_text: str | None = None,
) -> View:
    """The hire form; re-rendered with the new cost preview whenever the amount changes.

    `amount_text` is what was typed when it did not parse as `amount`: it stays
    in the input and the preview says why there is no total yet.
    """
    who = freelancer_name or "the freelancer"
    blocks: list[Block] = [
        HeaderBlock(
            text=plain(f"Hire {who} from proposal {proposal_id}", HEADER_TEXT, multiline=False)
        ),
    ]
    if errors_note:
        blocks.append(SectionBlock(text=plain(f"⚠️ {errors_note}")))
    blocks += [
        _text_input(BlockId.HIRE_NAME, ActionId.HIRE_NAME, "Milestone name", name, NAME_MAX),
        _text_input(
            BlockId.HIRE_DESCRIPTION,
            ActionId.HIRE_DESCRIPTION,
            "What the first milestone covers",
            description,
            DESCRIPTION_MAX,
            multiline=True,
            optional=True,
        ),
        _amount_input(BlockId.HIRE_AMOUNT, ActionId.HIRE_AMOUNT, amount, amount_text),
        # One block under a stable id: the re-render on each keystroke replaces it in place.
        SectionBlock(block_id=BlockId.HIRE_COST, text=mrkdwn(cost_preview(amount, amount_text))),
        InputBlock(
            block_id=BlockId.HIRE_DUE_DATE,
            label="Due date",
            optional=True,
            element=DatePickerElement(
                action_id=ActionId.HIRE_DUE_DATE,
                initial_date=due_date.isoformat() if due_date else None,
            ),
        ),
        ContextBlock(
            elements=[
                mrkdwn(
                    "Nothing is charged until a human confirms in OpenTrain, where they choose "
                    "card or credit balance."
                )
            ]
        ),
    ]
    return _modal(CallbackId.HIRE, "Hire on OpenTrain", "Request hire", blocks, private_metadata)


def cost_preview(amount: Decimal | None, amount_text: str | None = None) -> str:
    """What the human will confirm: amount + 10 % + initiation fee, or how to get there."""
    if not _usable(amount):
        return _no_amount_yet(
            amount_text,
            "to see the total",
            "Type an amount to see the total: amount + 10 % marketplace fee + "
            f"{format_usd(CONTRACT_INITIATION_FEE)} contract initiation fee.",
        )
    cost = hire_cost(amount)
    return (
        f"{format_usd(cost.amount)} + {format_usd(cost.marketplace_fee)} marketplace fee (10 %) + "
        f"{format_usd(cost.initiation_fee)} contract initiation fee = *{format_usd(cost.total)}*"
    )


def milestone_modal(
    *,
    contract_id: str,
    contract_title: str | None,
    private_metadata: str,
    name: str = "",
    description: str = "",
    amount: Decimal | None = None,
    amount_text: str | None = None,
) -> View:
    """The new-milestone form; like the hire form, re-rendered as the amount is typed, with
    what funding the milestone will cost later (`amount_text`: typed, not an amount)."""
    contract = f"{contract_title} ({contract_id})" if contract_title else contract_id
    blocks: list[Block] = [
        SectionBlock(text=plain(f"New milestone on contract {contract}.", multiline=False)),
        _text_input(
            BlockId.MILESTONE_NAME,
            ActionId.MILESTONE_NAME,
            "Milestone name",
            name,
            NAME_MAX,
            optional=True,
        ),
        _text_input(
            BlockId.MILESTONE_DESCRIPTION,
            ActionId.MILESTONE_DESCRIPTION,
            "What this milestone covers",
            description,
            DESCRIPTION_MAX,
            multiline=True,
        ),
        _amount_input(BlockId.MILESTONE_AMOUNT, ActionId.MILESTONE_AMOUNT, amount, amount_text),
        SectionBlock(
            block_id=BlockId.MILESTONE_COST, text=mrkdwn(funding_preview(amount, amount_text))
        ),
        ContextBlock(
            elements=[
                mrkdwn(
                    "Creating a milestone moves no money. Funding it afterwards needs a human "
                    "to confirm in OpenTrain."
                )
            ]
        ),
    ]
    return _modal(
        CallbackId.MILESTONE, "Add a milestone", "Create milestone", blocks, private_metadata
    )


def funding_preview(amount: Decimal | None, amount_text: str | None = None) -> str:
    """What funding the milestone will move later: its amount into escrow, as the fund card
    shows it (fees come with a hire only)."""
    if not _usable(amount):
        return _no_amount_yet(
            amount_text,
            "to see what funding it will cost",
            "Type an amount to see what funding this milestone will cost later.",
        )
    return f"Funding it later: *{facts.into_escrow(amount)}* — the milestone amount, no fees."


def milestone_created(
    milestone_name: str | None, amount: Decimal | None, contract_id: str, milestone_id: str
) -> SlackMessage:
    """The reply once a milestone exists (unfunded), with the button that starts funding it."""
    name = milestone_name or f"Milestone {milestone_id}"
    shown = f"{name} — {format_usd(amount)}" if amount is not None else name
    return SlackMessage(
        text=fallback(f"Milestone created: {shown}. It is not funded yet."),
        blocks=[
            SectionBlock(
                text=mrkdwn(
                    f"✅ *Milestone created* on contract {code(contract_id)} — not funded yet, "
                    "no money moved."
                )
            ),
            SectionBlock(text=plain(shown)),
            ActionsBlock(
                elements=[
                    facts.value_button(
                        "Fund this milestone", ActionId.FUND_MILESTONE, milestone_id, primary=True
                    )
                ]
            ),
        ],
    )


def _text_input(
    block_id: BlockId,
    action_id: ActionId,
    label: str,
    initial: str,
    max_length: int,
    *,
    multiline: bool = False,
    optional: bool = False,
) -> InputBlock:
    # Slack refuses a view whose initial value is longer than the input allows.
    prefill = clip(clean(initial, multiline=multiline), max_length) or None
    return InputBlock(
        block_id=block_id,
        label=label,
        optional=optional,
        element=PlainTextInputElement(
            action_id=action_id,
            initial_value=prefill,
            multiline=multiline,
            max_length=max_length,
        ),
    )


def _amount_input(
    block_id: BlockId, action_id: ActionId, amount: Decimal | None, amount_text: str | None
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label="Amount (USD)",
        # Dispatching lets the handler refresh the preview while the amount is typed.
        dispatch_action=True,
        element=PlainTextInputElement(
            action_id=action_id,
            placeholder="e.g. 300 or 1250.50",
            initial_value=_amount_text(amount, amount_text),
            max_length=AMOUNT_MAX_CHARS,
            dispatch_action_config=DispatchActionConfig(
                trigger_actions_on=["on_enter_pressed", "on_character_entered"]
            ),
        ),
    )


def _usable(amount: Decimal | None) -> TypeGuard[Decimal]:
    return amount is not None and amount.is_finite() and amount > 0


def _no_amount_yet(amount_text: str | None, to_see: str, hint: str) -> str:
    if amount_text and amount_text.strip():
        return (
            f"“{esc(clip(amount_text, AMOUNT_MAX_CHARS))}” is not an amount yet — type "
            f"dollars like 450 or 450.50 {to_see}."
        )
    return hint


def _amount_text(amount: Decimal | None, typed: str | None) -> str | None:
    if amount is not None and amount.is_finite():
        return clip(f"{amount:f}", AMOUNT_MAX_CHARS)
    return clip(clean(typed or ""), AMOUNT_MAX_CHARS) or None


def _modal(
    callback_id: CallbackId, title: str, submit: str, blocks: list[Block], private_metadata: str
) -> View:
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        raise ValueError(f"private_metadata exceeds Slack's {PRIVATE_METADATA_MAX} characters")
    return View(
        type="modal",
        callback_id=callback_id,
        title=PlainTextObject(text=title),
        submit=PlainTextObject(text=submit),
        close=PlainTextObject(text="Cancel"),
        blocks=blocks,
        private_metadata=private_metadata or None,
    )
