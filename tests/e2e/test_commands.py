"""Every `/opentrain` subcommand's happy path, over HTTP with both simulators.

The hire flow (modal → card → confirmation) is in test_hire_flow.py; errors,
bad input and timing in the other test_commands_*.py files.
"""

from __future__ import annotations

import json

import aiohttp
import pytest

from bot.cards import ActionId
from bot.sandbox.opentrain.seed import PRECLAIM_TOKEN, READONLY_TOKEN
from tests.support.bot_harness import SandboxFactory
from tests.support.commands import (
    CHANNEL,
    PROGRESS,
    USER,
    Bot,
    buttons,
    milestone_values,
    rendered,
    start_bot,
)
from tests.support.wait import wait_for


@pytest.fixture
async def bot(make_sandbox: SandboxFactory) -> Bot:
    return await start_bot(make_sandbox)


async def test_help_answers_in_the_acknowledgement(bot: Bot) -> None:
    for text in ("help", ""):
        delivery = await bot.command(text)
        assert delivery.ok
        shown = rendered(delivery)
        for verb in ("hire", "fund", "payout", "end", "milestone", "track", "pending", "status"):
            assert f"/opentrain {verb}" in shown
    assert await bot.sent() == []


async def test_fund_posts_a_card_and_tells_the_requester_where(bot: Bot) -> None:
    delivery = await bot.command("fund ms_batch2")
    assert delivery.ok and delivery.elapsed_ms < 3000
    assert "Asking OpenTrain" not in rendered(delivery)  # the answer comes in the ack's place

    answer = await bot.answer()
    assert [e.text for e in bot.private()] == [answer.text]
    assert f"Approval card posted in <#{CHANNEL}>" in rendered(answer)
    [approval] = bot.approvals()
    assert approval.type.value == "milestone_fund" and approval.milestone_id == "ms_batch2"
    card = await bot.card_for(approval.id)
    shown = rendered(card)
    assert "Fund milestone Batch 2" in shown and "$250.00" in shown and "Into escrow" in shown
    assert f"{bot.sandbox.opentrain.origin}/approvals/{approval.id}" in shown
    assert f"<@{USER}>" in shown
    assert [(r["method"], r["path"]) for r in await bot.writes()] == [
        ("POST", "/milestones/ms_batch2/fund")
    ]


async def test_payout_of_a_funded_milestone(bot: Bot) -> None:
    await bot.command("payout ms_batch1")
    await bot.answer()
    [approval] = bot.approvals()
    assert approval.type.value == "milestone_approve"
    shown = rendered(await bot.card_for(approval.id))
    assert "Release payout for Batch 1" in shown and "$450.00" in shown
    assert "Released to the freelancer" in shown


async def test_end_with_funded_milestones_needs_a_cosign_card(bot: Bot) -> None:
    await bot.command("end ctr_linus")
    assert "Approval card posted" in rendered(await bot.answer())
    [approval] = bot.approvals()
    assert approval.type.value == "contract_end" and approval.contract_id == "ctr_linus"
    shown = rendered(await bot.card_for(approval.id))
    assert "End contract" in shown and "In escrow" in shown and "$450.00" in shown
    assert bot.sandbox.opentrain.state.contracts["ctr_linus"].status.value == "active"


async def test_a_slow_answer_replaces_its_progress_note(bot: Bot) -> None:
    await bot.fault(path="/milestones/ms_batch2/fund", lateMs=2500, count=1)
    await bot.command("fund ms_batch2")

    def note_shown() -> bool:
        return any("Asking OpenTrain to fund milestone ms_batch2" in e.text for e in bot.private())

    await wait_for(note_shown, message="the progress note, once OpenTrain is slow")
    answer = await bot.answer()
    assert "Approval card posted" in answer.text
    # The answer took the note's place: one private message, and it is not "Asking…".
    assert [e.text for e in bot.private()] == [answer.text]
    posts = bot.sandbox.slack.state.response_posts
    assert [post.outcome for post in posts] == ["ephemeral", "replaced"]


async def test_end_without_funded_milestones_ends_directly_without_a_card(bot: Bot) -> None:
    delivery = await bot.command("end ctr_margaret")
    assert "Asking OpenTrain" not in rendered(delivery)
    answer = await bot.answer()
    assert "ended it directly" in answer.text and "no approval was needed" in answer.text
    assert bot.sandbox.opentrain.state.contracts["ctr_margaret"].status.value == "ended"
    assert bot.approvals() == [] and bot.cards() == []


async def test_milestone_modal_creates_it_and_its_button_starts_funding(bot: Bot) -> None:
    view = await bot.modal("milestone ctr_linus")
    assert view.content["callback_id"] == "milestone-modal"
    seen = len(bot.private())
    submitted = await bot.submit(view, milestone_values(name="Batch 3", amount="300"))
    assert submitted.ok and submitted.response_action is None  # the modal closed

    reply = await bot.answer(after=seen)
    assert "Milestone created" in reply.text and "$300.00" in rendered(reply)
    [create] = [r for r in await bot.writes() if r["path"] == "/contracts/ctr_linus/milestones"]
    assert json.loads(create["body"]) == {
        "name": "Batch 3",
        "description": "Night footage, 5k boxes",
        "amountUsd": 300.00,
    }
    fund = buttons(reply)[ActionId.FUND_MILESTONE.value]
    assert bot.approvals() == []  # creating a milestone moves no money

    clicked = await bot.click(reply, ActionId.FUND_MILESTONE)
    assert clicked.ok
    [approval] = await wait_for(bot.approvals, message="fund approval")
    assert approval.type.value == "milestone_fund" and approval.milestone_id == fund["value"]
    shown = rendered(await bot.card_for(approval.id))
    assert "Fund milestone Batch 3" in shown and "$300.00" in shown
    # The reply with the button was replaced by the receipt, so it cannot be clicked twice.
    replaced = await wait_for(
        lambda: "Approval card posted" in reply.text and reply, message="receipt in place"
    )
    assert ActionId.FUND_MILESTONE.value not in buttons(replaced)


async def test_track_by_id_and_by_link(bot: Bot) -> None:
    state = bot.sandbox.opentrain.state
    full_token = state.seeded["fullToken"]
    origin = bot.sandbox.opentrain.origin
    api = f"{origin}/api/public/v1"
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {full_token}"}) as ot:
        async with ot.post(f"{api}/milestones/ms_batch2/fund") as created:
            by_id = (await created.json())["approval"]["id"]
        async with ot.post(f"{api}/milestones/ms_batch1/approve") as created:
            by_link = (await created.json())["approval"]["id"]

    await bot.command(f"track {by_id}")
    assert "Approval card posted" in rendered(await bot.answer())
    assert "Fund milestone Batch 2" in rendered(await bot.card_for(by_id))

    seen = len(bot.private())
    await bot.command(f"track {by_id}")
    assert "Already tracked" in (await bot.answer(after=seen)).text
    assert len(bot.cards()) == 1

    seen = len(bot.private())
    # Slack sends links in command text escaped: <url>.
    await bot.command(f"track <{origin}/approvals/{by_link}>")
    await bot.answer(after=seen)
    assert "Release payout for Batch 1" in rendered(await bot.card_for(by_link))
    reads = [r["path"] for r in await bot.sent() if r["path"].startswith("/approvals/")]
    assert reads[:3] == [f"/approvals/{by_id}", f"/approvals/{by_id}", f"/approvals/{by_link}"]


async def test_track_refuses_a_link_to_another_host(bot: Bot) -> None:
    delivery = await bot.command("track <https://opentrain.evil.example/approvals/appr_1>")
    assert "not an OpenTrain approval link" in rendered(delivery)
    assert await bot.sent() == [] and bot.cards() == []


async def test_pending_lists_what_waits_for_a_human(bot: Bot) -> None:
    await bot.command("pending")
    assert "Nothing is waiting" in (await bot.answer()).text

    await bot.command("fund ms_batch2")
    [approval] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(approval.id)
    store = bot.sandbox.services.store

    async def permalink_recorded() -> bool:
        tracked = await store.get_approval(approval.id)
        return tracked is not None and tracked.card_permalink is not None

    await wait_for(permalink_recorded, message="the card's permalink recorded")
    seen = len(bot.private())
    await bot.command("pending")
    listed = await wait_for(
        lambda: next(
            (e for e in bot.private()[seen:] if "Waiting for a human" in rendered(e)), None
        ),
        message="pending list",
    )
    shown = rendered(listed)
    assert "Fund milestone Batch 2" in shown and "$250.00" in shown
    assert f"<@{USER}>" in shown and "*Expires*" in shown and "<!date^" in shown
    view_card = buttons(listed)[ActionId.OPEN_CARD.value]
    assert card.ts.replace(".", "") in view_card["url"]


async def test_contracts_with_and_without_status(bot: Bot) -> None:
    delivery = await bot.command("contracts")
    assert PROGRESS not in rendered(delivery)  # the ack says nothing; the answer follows
    everything = rendered(await bot.answer())
    for contract_id in ("ctr_linus", "ctr_margaret", "ctr_barbara"):
        assert contract_id in everything
    assert "Linus T." in everything and "Torvalds" not in everything  # masked as OpenTrain does

    seen = len(bot.private())
    await bot.command("contracts ended")
    ended = rendered(await bot.answer(after=seen))
    assert "ctr_barbara" in ended and "ctr_linus" not in ended
    queries = [r["query"] for r in await bot.sent() if r["path"] == "/contracts"]
    assert queries == [{}, {"status": "ended"}]


async def test_a_milestone_on_an_hourly_contract_is_sent_as_hours_at_its_rate(bot: Bot) -> None:
    """OpenTrain wants `volume` on hourly and per-label contracts (opentrain-api.md §10.2)."""
    view = await bot.modal("milestone ctr_margaret")  # $25.00 an hour
    seen = len(bot.private())
    await bot.submit(view, milestone_values(name="Week 2", amount="100"))
    reply = await bot.answer(after=seen)
    assert "Milestone created" in reply.text and "$100.00" in rendered(reply)
    [create] = [r for r in await bot.writes() if r["path"] == "/contracts/ctr_margaret/milestones"]
    assert (
        json.loads(create["body"])["volume"] == 4 and json.loads(create["body"])["amountUsd"] == 100
    )

    view = await bot.modal("milestone ctr_margaret")
    seen = len(bot.private())
    await bot.submit(view, milestone_values(name="Odd", amount="110.10"))
    refused = await bot.answer(after=seen)
    assert (
        "not a whole number of hours" in refused.text and "$100.00 for 4 hours" not in refused.text
    )
    assert "e.g. $110.00 for 4.4 hours" in refused.text
    assert len([r for r in await bot.writes() if r["path"].endswith("/milestones")]) == 1


async def test_contract_shows_milestones_and_their_buttons_work(bot: Bot) -> None:
    await bot.command("contract ctr_linus")
    detail = await bot.answer()
    shown = rendered(detail)
    for name in ("Pilot", "Batch 1", "Batch 2"):
        assert name in shown
    assert "Rain footage" not in shown  # OpenTrain leaves cancelled milestones out
    actions = buttons(detail)
    assert actions[ActionId.FUND_MILESTONE.value]["value"] == "ms_batch2"
    assert actions[ActionId.REQUEST_PAYOUT.value]["value"] == "ms_batch1"
    assert actions[ActionId.END_CONTRACT.value]["value"] == "ctr_linus"

    await bot.click(detail, ActionId.REQUEST_PAYOUT, value="ms_batch1")
    [approval] = await wait_for(bot.approvals, message="payout approval")
    assert approval.type.value == "milestone_approve" and approval.milestone_id == "ms_batch1"
    await bot.card_for(approval.id)
    await wait_for(lambda: "Approval card posted" in detail.text, message="receipt in place")


async def test_opening_a_contract_from_the_list(bot: Bot) -> None:
    await bot.command("contracts active")
    listed = await bot.answer()
    seen = len(bot.private())
    await bot.click(listed, ActionId.OPEN_CONTRACT, value="ctr_margaret")
    detail = await bot.answer(after=seen)
    assert "Sequence A" in rendered(detail) and "Sequence B" in rendered(detail)
    assert "ctr_linus" in rendered(listed)  # the list stays to pick another


async def test_status_of_a_healthy_account(bot: Bot) -> None:
    delivery = await bot.command("status")
    assert PROGRESS not in rendered(delivery)
    report = await bot.answer()
    shown = rendered(report)
    assert "Ready to hire and pay" in shown
    assert "❌" not in shown
    assert {"/auth/me", "/job-drafts/capabilities", "/credits"} <= {
        r["path"] for r in await bot.sent()
    }


async def test_status_of_an_unclaimed_account_links_the_claim_page(
    make_sandbox: SandboxFactory,
) -> None:
    # An agent-registered account holds only the pre-claim scopes until a human claims it.
    bot = await start_bot(make_sandbox, ot_api_token=PRECLAIM_TOKEN)
    await bot.control("PATCH", "/_sim/account", {"claimed": False})
    await bot.command("status")
    shown = rendered(await bot.answer())
    assert "problems to fix" in shown
    assert "❌ *Claimed account*" in shown
    assert f"{bot.sandbox.opentrain.origin}/claim" in shown


async def test_status_names_features_that_are_off(bot: Bot) -> None:
    await bot.control("PATCH", "/_sim/account", {"features": {"public_api_payments_write": False}})
    await bot.command("status")
    shown = rendered(await bot.answer())
    assert "1 problem to fix" in shown and "off: public_api_payments_write" in shown


async def test_status_names_missing_scopes_of_a_limited_token(make_sandbox: SandboxFactory) -> None:
    bot = await start_bot(make_sandbox, ot_api_token=READONLY_TOKEN)
    await bot.command("status")
    shown = rendered(await bot.answer())
    assert "❌ *Token scopes*" in shown and "missing proposals:write, payments:write" in shown


async def test_request_again_on_a_declined_card(bot: Bot) -> None:
    await bot.command("fund ms_batch2")
    [first] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(first.id)
    bot.sandbox.opentrain.state.decline(first.id)
    [outcome] = await wait_for(
        lambda: bot.sandbox.slack.replies(CHANNEL, card.ts), message="the outcome thread reply"
    )
    assert "Declined" in outcome.text
    seen = len(bot.private())
    await bot.click(outcome, ActionId.REQUEST_AGAIN)
    receipt = await bot.answer(after=seen)
    assert "Approval card posted" in receipt.text
    [second] = [a for a in bot.approvals() if a.id != first.id]
    assert second.milestone_id == "ms_batch2" and second.status == "pending"
    await bot.card_for(second.id)
    assert "Declined" in outcome.text and outcome.blocks  # the thread reply was left alone


async def test_link_buttons_are_acknowledged(bot: Bot) -> None:
    await bot.command("fund ms_batch2")
    [approval] = await wait_for(bot.approvals, message="approval")
    card = await bot.card_for(approval.id)
    clicked = await bot.click(card, ActionId.OPEN_APPROVAL)
    assert clicked.status == 200 and not clicked.timed_out
    receipt = await bot.answer()
    assert (await bot.click(receipt, ActionId.OPEN_CARD)).status == 200


async def test_a_private_channel_the_bot_is_not_in_is_refused_and_nothing_happens(
    bot: Bot,
) -> None:
    mark = len(bot.sandbox.opentrain.requests)
    await bot.command("fund ms_batch2", channel="C0PRIVATE")
    answer = rendered(await bot.answer(timeout=15))
    assert "No request was made" in answer
    assert "invite me: /invite @OpenTrain co-sign" in answer  # says who can fix it
    reached = [e for e in bot.sandbox.opentrain.requests.since(mark) if e["path"] != "/updates"]
    assert reached == []  # nothing asked of OpenTrain
    assert bot.cards("C0PRIVATE") == []
    assert bot.sandbox.slack.dms(USER) == []
