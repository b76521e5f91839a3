"""Every outcome reaches its card and thread exactly once: confirm, decline, expiry, supersede, 404.

The bot runs in-process beside both simulators over real HTTP; a human acts in
the OpenTrain simulator, and time moves only when the simulator's clock does.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.cards.ids import REQUESTER_DM_EVENT_TYPE
from bot.sandbox.opentrain.cosign import APPROVAL_TTL
from bot.tracker import SUPERSEDE_GRACE
from tests.support.processes import (
    CHANNEL,
    USER,
    Deployment,
    InProcessBot,
    add_proposals,
    approval_reads,
    card,
    card_text,
    effect_posts,
    hire_via_modal,
    outcome_replies,
    request_hire,
    resolved,
    track,
)
from tests.support.wait import wait_for


@pytest.fixture
async def bot(env: Deployment) -> InProcessBot:
    return await env.start_bot()


async def assert_landed_once(env: Deployment, bot: InProcessBot, approval_id: str) -> None:
    """Resolved on the card with one reply, and still so after every job ran a few more times."""
    await wait_for(lambda: resolved(env.slack, approval_id), message=f"{approval_id} resolved")
    await bot.settle()
    assert len(outcome_replies(env.slack, approval_id)) == 1
    assert all(count == 1 for count in effect_posts(env.slack, CHANNEL).values())


async def test_confirmation_updates_the_card_and_replies_once(
    env: Deployment, bot: InProcessBot
) -> None:
    approval_id = await request_hire(env.opentrain, "prop_ada", "450.00")
    await track(env.slack, approval_id)
    assert "Review & confirm" in card_text(env.slack, approval_id)

    approval = env.opentrain.state.confirm(approval_id)

    await assert_landed_once(env, bot, approval_id)
    shown = card_text(env.slack, approval_id)
    assert "Confirmed" in shown
    assert approval.result is not None and approval.result["contractId"] in shown
    reply = outcome_replies(env.slack, approval_id)[0]
    assert f"<@{USER}>" in str(reply.blocks)


async def test_decline_says_nothing_happened_and_offers_nothing_to_click(
    env: Deployment, bot: InProcessBot
) -> None:
    fund = await bot.services.opentrain.fund_milestone("ms_batch2")
    hire = await request_hire(env.opentrain, "prop_ada")
    for approval_id in (fund.approval.id, hire):
        await track(env.slack, approval_id)

    env.opentrain.state.decline(fund.approval.id)
    env.opentrain.state.decline(hire)

    await assert_landed_once(env, bot, fund.approval.id)
    # A hire's decline is held for SUPERSEDE_GRACE (it may turn out to be a supersede).
    assert not resolved(env.slack, hire)
    env.opentrain.state.advance(SUPERSEDE_GRACE.total_seconds())
    await assert_landed_once(env, bot, hire)
    meanings = {
        fund.approval.id: "Nothing was funded; the milestone is still waiting for funding.",
        hire: "Nobody was hired and nothing was paid.",
    }
    for approval_id, meaning in meanings.items():
        assert "Declined" in card_text(env.slack, approval_id)
        assert meaning in str(outcome_replies(env.slack, approval_id)[0].blocks)


async def test_expiry_on_the_simulator_clock_updates_card_thread_and_dms_the_requester(
    env: Deployment, bot: InProcessBot
) -> None:
    approval_id = await request_hire(env.opentrain, "prop_ada")
    await track(env.slack, approval_id)

    env.opentrain.state.advance((APPROVAL_TTL + timedelta(seconds=10)).total_seconds())

    await assert_landed_once(env, bot, approval_id)
    assert "Expired" in card_text(env.slack, approval_id)
    dms = [
        m
        for m in env.slack.dms(USER)
        if (m.metadata or {}).get("event_type") == REQUESTER_DM_EVENT_TYPE
    ]
    assert len(dms) == 1


async def test_a_newer_hire_for_the_same_proposal_replaces_the_older_card(
    env: Deployment, bot: InProcessBot
) -> None:
    await hire_via_modal(env.slack, "prop_ada", "450")
    older = await wait_for(lambda: list(env.opentrain.state.approvals), message="first hire")
    await wait_for(lambda: card(env.slack, older[0]), message="first card")

    await hire_via_modal(env.slack, "prop_ada", "500")  # different terms: OpenTrain supersedes
    [newer] = await wait_for(
        lambda: [a for a in env.opentrain.state.approvals if a != older[0]], message="second hire"
    )
    await wait_for(lambda: card(env.slack, newer), message="second card")

    await assert_landed_once(env, bot, older[0])
    shown = card_text(env.slack, older[0])
    assert "Replaced by a newer hire request" in shown and newer in shown
    assert not outcome_replies(env.slack, newer)
    assert "Review & confirm" in card_text(env.slack, newer)


async def test_an_approval_opentrain_no_longer_shows_is_reported_once_and_dropped(
    env: Deployment, bot: InProcessBot
) -> None:
    approval_id = await request_hire(env.opentrain, add_proposals(env.opentrain, 1)[0])
    await track(env.slack, approval_id)
    # What a token of another account (or a rotated one) sees: 404 for this id.
    del env.opentrain.state.approvals[approval_id]

    env.opentrain.state.advance((APPROVAL_TTL + timedelta(seconds=10)).total_seconds())

    await assert_landed_once(env, bot, approval_id)
    assert "No longer visible to the bot" in card_text(env.slack, approval_id)
    reads = len(approval_reads(env.opentrain))
    env.opentrain.state.advance(timedelta(days=1).total_seconds())
    await bot.settle()
    assert len(approval_reads(env.opentrain)) == reads  # never retried
