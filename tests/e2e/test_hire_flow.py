"""Hire end to end: slash command → modal → card → human confirms in OpenTrain → card and thread."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from bot.cards import ActionId, BlockId
from bot.sandbox.slack import payloads
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import (
    CHANNEL,
    USER,
    Bot,
    buttons,
    hire_values,
    post_signed,
    rendered,
    start_bot,
)
from tests.support.wait import wait_for


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox)


def input_value(view_blocks: list[dict], block_id: BlockId) -> object:
    [block] = [b for b in view_blocks if b.get("block_id") == block_id.value]
    return block["element"].get("initial_value")


async def test_hire_modal_is_prefilled_and_shows_what_the_human_will_confirm(bot: Bot) -> None:
    # Slack escapes the command text (should_escape): & < > and mentions arrive encoded.
    view = await bot.modal("hire prop_ada 450 Batch &lt;1&gt; for <@U0BEN|ben>")
    blocks = view.content["blocks"]
    assert view.content["callback_id"] == "hire-modal"
    assert input_value(blocks, BlockId.HIRE_NAME) == "Batch <1> for @ben"
    assert input_value(blocks, BlockId.HIRE_AMOUNT) == "450.00"
    preview = json.dumps(blocks, ensure_ascii=False)
    assert "$450.00 + $45.00 marketplace fee (10 %) + $9.95 contract initiation fee" in preview
    assert "*$504.95*" in preview

    # Named from OpenTrain's proposal (a read, no write).
    assert "Hire Ada L. from proposal prop_ada" in json.dumps(view.content)
    assert [(r["method"], r["path"]) for r in await bot.sent()] == [("GET", "/proposals/prop_ada")]


async def test_hire_via_modal_posts_a_card_and_reports_the_confirmation(bot: Bot) -> None:
    view = await bot.modal("hire prop_ada 450 Batch 1")
    submitted = await bot.submit(view, hire_values(name="Batch 1", amount="450", due="2030-07-01"))
    assert submitted.ok and submitted.response_action is None

    [approval] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(approval.id)
    shown = rendered(card)
    assert "Hire Ada L. — Batch 1" in shown
    for money in ("$450.00", "$45.00", "$9.95", "$504.95"):
        assert money in shown
    assert "Marketplace fee (10 %)" in shown and "Total" in shown
    assert f"{bot.sandbox.opentrain.origin}/approvals/{approval.id}" in shown
    [hire] = [r for r in await bot.writes() if r["path"] == "/proposals/prop_ada/hire"]
    assert json.loads(hire["body"]) == {
        "milestone": {
            "name": "Batch 1",
            "description": "10k boxes",
            "amount": 450.00,
            "dueDate": "2030-07-01",
        }
    }

    receipt = await bot.answer()
    assert f"Approval card posted in <#{CHANNEL}>" in rendered(receipt)
    assert ActionId.OPEN_CARD.value in rendered(receipt)

    bot.sandbox.opentrain.state.confirm(approval.id)

    def resolved() -> object:
        card = bot.card(approval.id)
        replies = bot.sandbox.slack.replies(CHANNEL, card.ts) if card else []
        return card is not None and replies and (card, replies)

    card, replies = await wait_for(resolved, message="thread reply")
    assert len(replies) == 1 and f"<@{USER}>" in rendered(replies[0])
    assert "Review & confirm" not in rendered(card)
    assert "Confirmed in OpenTrain" in rendered(card)

    # The confirmed card offers the next step: a milestone on the new contract.
    contract_id = buttons(card)[ActionId.ADD_MILESTONE.value]["value"]
    assert contract_id == bot.sandbox.opentrain.state.approvals[approval.id].contract_id
    await bot.click(card, ActionId.ADD_MILESTONE)
    [milestone] = await wait_for(
        lambda: [v for v in bot.sandbox.slack.state.open_views(USER) if v.id != view.id],
        message="milestone modal",
    )
    assert json.loads(milestone.content["private_metadata"]) == {
        "contractId": contract_id,
        "channelId": CHANNEL,
    }


async def test_typing_an_amount_refreshes_the_cost_in_the_modal(bot: Bot) -> None:
    view = await bot.modal("hire prop_ada 100 Batch 1")
    state = bot.sandbox.slack.state
    view.state_values = payloads.view_state_values(view, hire_values(name="Batch 1", amount="300"))
    # What Slack sends while the amount is typed (dispatch_action on the input).
    payload = payloads.block_actions(
        state,
        user_id=USER,
        action={
            "type": "plain_text_input",
            "action_id": ActionId.HIRE_AMOUNT.value,
            "block_id": BlockId.HIRE_AMOUNT.value,
            "value": "300",
            "action_ts": state.next_ts(),
        },
        trigger_id=state.issue_trigger(USER).id,
        verification_token=bot.sandbox.slack.config.verification_token,
        container={"type": "view", "view_id": view.id},
        view=view,
    )
    status, _ = await post_signed(bot, urlencode({"payload": json.dumps(payload)}).encode())
    assert status == 200

    def refreshed() -> str | None:
        shown = json.dumps(view.content["blocks"], ensure_ascii=False)
        return shown if "*$339.95*" in shown else None

    shown = await wait_for(refreshed, message="the cost preview for $300")
    assert "$300.00 + $30.00 marketplace fee (10 %) + $9.95" in shown
    assert input_value(view.content["blocks"], BlockId.HIRE_NAME) == "Batch 1"  # kept
    assert "Ada L." in shown  # the freelancer stays named
    assert await bot.writes() == []  # typing asks OpenTrain nothing
