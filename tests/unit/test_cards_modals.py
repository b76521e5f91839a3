"""The hire and milestone modals as Slack receives them, and the answer once a milestone
is created (`bot/cards/modals.py`)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from bot import cards
from bot.cards import ActionId, BlockId, CallbackId, facts
from bot.tracked_approvals import ApprovalDetails
from tests.unit.cards_helpers import blocks, buttons, fund, texts


def by_block_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {block["block_id"]: block for block in view["blocks"] if "block_id" in block}


def cost_line(view: dict[str, Any], block_id: BlockId = BlockId.HIRE_COST) -> str:
    return str(by_block_id(view)[block_id]["text"]["text"])


def all_text(view: dict[str, Any]) -> str:
    return repr(view["blocks"])


def hire(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {"proposal_id": "prop_1", "private_metadata": '{"p":1}'}
    return cards.hire_modal(**{**arguments, **overrides}).to_dict()


def test_hire_modal_frame() -> None:
    view = hire()
    assert view["type"] == "modal"
    assert view["callback_id"] == CallbackId.HIRE == "hire-modal"
    assert view["title"] == {"type": "plain_text", "text": "Hire on OpenTrain"}
    assert view["submit"] == {"type": "plain_text", "text": "Request hire"}
    assert view["close"] == {"type": "plain_text", "text": "Cancel"}
    assert view["private_metadata"] == '{"p":1}'
    assert "Nothing is charged until a human confirms in OpenTrain" in all_text(view)


def test_hire_modal_inputs_are_prefilled_and_wired_to_stable_ids() -> None:
    view = hire(
        name="Batch 1",
        description="First 500 images\nwith polygons",
        amount=Decimal("300"),
        due_date=date(2026, 7, 1),
        freelancer_name="Ada L.",
    )
    blocks = by_block_id(view)
    assert blocks[BlockId.HIRE_NAME]["element"] == {
        "type": "plain_text_input",
        "action_id": ActionId.HIRE_NAME,
        "initial_value": "Batch 1",
        "multiline": False,
        "max_length": 200,
    }
    assert blocks[BlockId.HIRE_NAME]["optional"] is False
    description = blocks[BlockId.HIRE_DESCRIPTION]
    assert description["element"]["multiline"] is True
    assert description["element"]["initial_value"] == "First 500 images\nwith polygons"
    assert description["optional"] is True
    amount = blocks[BlockId.HIRE_AMOUNT]
    assert amount["dispatch_action"] is True
    assert amount["element"]["action_id"] == ActionId.HIRE_AMOUNT
    assert amount["element"]["initial_value"] == "300"
    assert amount["element"]["dispatch_action_config"] == {
        "trigger_actions_on": ["on_enter_pressed", "on_character_entered"]
    }
    due = blocks[BlockId.HIRE_DUE_DATE]
    assert due["optional"] is True
    assert due["element"] == {
        "type": "datepicker",
        "action_id": ActionId.HIRE_DUE_DATE,
        "initial_date": "2026-07-01",
    }
    assert view["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Hire Ada L. from proposal prop_1", "emoji": True},
    }
    assert hire()["blocks"][0]["text"]["text"] == "Hire the freelancer from proposal prop_1"


def test_hire_modal_cost_preview_adds_fee_and_initiation() -> None:
    assert cost_line(hire(amount=Decimal("300"))) == (
        "$300.00 + $30.00 marketplace fee (10 %) + $9.95 contract initiation fee = *$339.95*"
    )
    assert cost_line(hire(amount=Decimal("1250.50"))).endswith("= *$1,385.50*")


@pytest.mark.parametrize(
    ("modal", "amount_id", "cost_id"),
    [
        (hire, BlockId.HIRE_AMOUNT, BlockId.HIRE_COST),
        (lambda **kw: milestone(**kw), BlockId.MILESTONE_AMOUNT, BlockId.MILESTONE_COST),
    ],
    ids=["hire", "milestone"],
)
def test_the_cost_preview_is_one_block_under_the_amount_that_a_re_render_replaces(
    modal: Any, amount_id: BlockId, cost_id: BlockId
) -> None:
    first, typed = modal(amount=Decimal(100)), modal(amount=Decimal(300))
    for view in (first, typed):
        ids = [block.get("block_id") for block in view["blocks"]]
        assert ids.count(cost_id) == 1
        assert ids.index(cost_id) == ids.index(amount_id) + 1  # right under what is typed
        assert by_block_id(view)[cost_id]["type"] == "section"
    # Only the preview (and the typed value) differ between the two renders.
    changed = [
        block.get("block_id")
        for block, before in zip(typed["blocks"], first["blocks"], strict=True)
        if block != before
    ]
    assert changed == [amount_id, cost_id]


@pytest.mark.parametrize("amount", [None, Decimal(0), Decimal(-5), Decimal("NaN")])
def test_hire_modal_hints_when_there_is_no_usable_amount(amount: Decimal | None) -> None:
    assert cost_line(hire(amount=amount)).startswith("Type an amount to see the total")


def test_hire_modal_keeps_an_unparsable_amount_and_says_why() -> None:
    view = hire(amount=None, amount_text="12<b>x")
    assert by_block_id(view)[BlockId.HIRE_AMOUNT]["element"]["initial_value"] == "12<b>x"
    assert cost_line(view).startswith("“12&lt;b&gt;x” is not an amount yet")


def test_hire_modal_shows_the_errors_note_first() -> None:
    view = hire(errors_note="OpenTrain needs a payment method: <https://billing|add one>")
    assert view["blocks"][1]["text"] == {
        "type": "plain_text",
        "text": "⚠️ OpenTrain needs a payment method: <https://billing|add one>",
        "emoji": True,
    }


def test_hire_modal_prefill_is_cut_to_what_the_input_accepts() -> None:
    view = hire(name="n" * 500, description="d" * 5000)
    blocks = by_block_id(view)
    assert len(blocks[BlockId.HIRE_NAME]["element"]["initial_value"]) == 200
    assert len(blocks[BlockId.HIRE_DESCRIPTION]["element"]["initial_value"]) == 3000


def test_modal_refuses_private_metadata_slack_would_reject() -> None:
    with pytest.raises(ValueError, match="private_metadata"):
        cards.hire_modal(proposal_id="prop_1", private_metadata="x" * 3001)


def milestone(**overrides: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "contract_id": "ctr_1",
        "contract_title": "Image Segmentation",
        "private_metadata": "{}",
    }
    return cards.milestone_modal(**{**arguments, **overrides}).to_dict()


def test_milestone_modal_previews_what_funding_will_cost_later() -> None:
    view = milestone(amount=Decimal("450"))
    assert cost_line(view, BlockId.MILESTONE_COST) == (
        "Funding it later: *$450.00 into escrow* — the milestone amount, no fees."
    )
    # The same sum a fund card of that milestone shows as going into escrow.
    assert "$450.00 into escrow" in facts.money_summary(
        fund(details=ApprovalDetails(amount_usd=Decimal("450")))
    )
    assert cost_line(milestone(), BlockId.MILESTONE_COST) == (
        "Type an amount to see what funding this milestone will cost later."
    )
    assert cost_line(milestone(amount_text="4,50"), BlockId.MILESTONE_COST) == (
        "“4,50” is not an amount yet — type dollars like 450 or 450.50 to see what funding "
        "it will cost."
    )


def test_milestone_modal_amount_dispatches_as_it_is_typed_and_keeps_what_was_typed() -> None:
    view = milestone(name="Batch 2", description="Next 500", amount_text="12x")
    blocks = by_block_id(view)
    amount = blocks[BlockId.MILESTONE_AMOUNT]
    assert amount["dispatch_action"] is True
    assert amount["element"]["action_id"] == ActionId.MILESTONE_AMOUNT == "milestone-amount"
    assert amount["element"]["dispatch_action_config"] == {
        "trigger_actions_on": ["on_enter_pressed", "on_character_entered"]
    }
    assert amount["element"]["initial_value"] == "12x"
    assert blocks[BlockId.MILESTONE_NAME]["element"]["initial_value"] == "Batch 2"
    assert blocks[BlockId.MILESTONE_DESCRIPTION]["element"]["initial_value"] == "Next 500"
    assert milestone(amount=Decimal("99.5"))["blocks"][3]["element"]["initial_value"] == "99.5"


def test_milestone_modal() -> None:
    view = cards.milestone_modal(
        contract_id="ctr_1", contract_title="Image Segmentation", private_metadata="{}"
    ).to_dict()
    assert view["callback_id"] == CallbackId.MILESTONE
    assert view["title"]["text"] == "Add a milestone"
    assert view["submit"]["text"] == "Create milestone"
    assert view["blocks"][0]["text"]["text"] == (
        "New milestone on contract Image Segmentation (ctr_1)."
    )
    blocks = by_block_id(view)
    assert blocks[BlockId.MILESTONE_NAME]["optional"] is True
    assert blocks[BlockId.MILESTONE_DESCRIPTION]["optional"] is False
    assert blocks[BlockId.MILESTONE_DESCRIPTION]["element"]["multiline"] is True
    assert blocks[BlockId.MILESTONE_AMOUNT].get("optional", False) is False
    assert blocks[BlockId.MILESTONE_AMOUNT]["element"]["action_id"] == ActionId.MILESTONE_AMOUNT
    assert "moves no money" in all_text(view)


def test_milestone_modal_without_a_title_names_the_contract_by_id() -> None:
    view = cards.milestone_modal(contract_id="ctr_1", contract_title=None, private_metadata="{}")
    assert view.to_dict()["blocks"][0]["text"]["text"] == "New milestone on contract ctr_1."


# --- milestone_created ----------------------------------------------------------------


def test_milestone_created_offers_to_fund_it() -> None:
    message = cards.milestone_created("Batch 2", Decimal(450), "ctr_1", "ms_2")
    assert blocks(message)[1]["text"]["text"] == "Batch 2 — $450.00"
    assert [(b["action_id"], b["value"], b.get("style")) for b in buttons(message)] == [
        (ActionId.FUND_MILESTONE, "ms_2", "primary")
    ]
    assert "no money moved" in texts(message)
    unnamed = cards.milestone_created(None, None, "ctr_1", "ms_2")
    assert blocks(unnamed)[1]["text"]["text"] == "Milestone ms_2"
