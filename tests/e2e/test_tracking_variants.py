"""What OpenTrain's docs leave open about outcomes, under every variant the simulator plays.

* A hire replaced by newer terms ends with a status the docs do not name (§7.3):
  `declined`, `superseded`, `cancelled` or any other word. Whatever it is, the old
  card says it was replaced when the bot knows the newer request, and otherwise what
  OpenTrain said; nothing is polled after it ended.
* A status that never ends is not polled forever: an hour past `expiresAt` the
  approval is marked ended with OpenTrain's word and an audit entry.

Duplicated and reordered webhook deliveries: tests/e2e/test_webhooks.py.
"""

from __future__ import annotations

import pytest

from bot.sandbox.opentrain.cosign import APPROVAL_TTL
from bot.tracked_approvals import GIVE_UP_AFTER_EXPIRY, TrackedStatus
from bot.tracker import SUPERSEDE_GRACE
from tests.support.processes import (
    CHANNEL,
    Deployment,
    InProcessBot,
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

SUPERSEDED_STATUSES = ["declined", "superseded", "cancelled", "withdrawn_by_update"]


@pytest.fixture
async def bot(env: Deployment) -> InProcessBot:
    return await env.start_bot()


def configure(env: Deployment, **changes: object) -> None:
    state = env.opentrain.state
    state.config = state.config.patched(changes)


async def landed_once(env: Deployment, bot: InProcessBot, approval_id: str) -> None:
    await wait_for(lambda: resolved(env.slack, approval_id), message=f"{approval_id} resolved")
    await bot.settle()
    assert len(outcome_replies(env.slack, approval_id)) == 1
    assert all(count == 1 for count in effect_posts(env.slack, CHANNEL).values())


async def no_reads_after_expiry(env: Deployment, bot: InProcessBot, approval_id: str) -> None:
    """Past expiry and the give-up hour, the ended approval is never read again."""
    mark = len(env.opentrain.requests)
    env.opentrain.state.advance((APPROVAL_TTL + GIVE_UP_AFTER_EXPIRY * 2).total_seconds())
    await bot.settle()
    reads = approval_reads(env.opentrain, mark)
    assert [r for r in reads if r["path"] == f"/approvals/{approval_id}"] == []


@pytest.mark.parametrize("status", SUPERSEDED_STATUSES)
async def test_a_replaced_hire_says_so_whatever_status_opentrain_gives_it(
    env: Deployment, bot: InProcessBot, status: str
) -> None:
    configure(env, supersededStatus=status)
    await hire_via_modal(env.slack, "prop_ada", "450")
    [older] = await wait_for(lambda: list(env.opentrain.state.approvals), message="first hire")
    await wait_for(lambda: card(env.slack, older), message="first card")

    await hire_via_modal(env.slack, "prop_ada", "500")  # different terms: OpenTrain replaces it
    [newer] = await wait_for(
        lambda: [a for a in env.opentrain.state.approvals if a != older], message="second hire"
    )
    await wait_for(lambda: card(env.slack, newer), message="second card")
    assert env.opentrain.state.approvals[older].status == status

    await landed_once(env, bot, older)
    shown = card_text(env.slack, older)
    assert "Replaced by a newer hire request" in shown and newer in shown
    assert "Review & confirm" in card_text(env.slack, newer)
    tracked = await bot.services.store.get_approval(older)
    assert tracked is not None and tracked.status is TrackedStatus.SUPERSEDED
    await no_reads_after_expiry(env, bot, older)


@pytest.mark.parametrize("status", ["superseded", "withdrawn_by_update"])
async def test_a_hire_replaced_outside_the_bot_shows_what_opentrain_said(
    env: Deployment, bot: InProcessBot, status: str
) -> None:
    """The newer request came from an agent's own call: the bot cannot know it replaced
    this one, so the card reports OpenTrain's word rather than guess."""
    configure(env, supersededStatus=status)
    older = await request_hire(env.opentrain, "prop_ada", "450.00")
    await track(env.slack, older)
    await request_hire(env.opentrain, "prop_ada", "500.00")  # not tracked by the bot
    env.opentrain.state.advance(SUPERSEDE_GRACE.total_seconds())  # past the hold

    await landed_once(env, bot, older)
    shown = card_text(env.slack, older)
    assert "Ended in OpenTrain" in shown and status in shown
    tracked = await bot.services.store.get_approval(older)
    assert tracked is not None
    assert (tracked.status, tracked.opentrain_status) == (TrackedStatus.ENDED, status)
    await no_reads_after_expiry(env, bot, older)


async def test_a_status_that_never_ends_stops_being_polled_an_hour_after_expiry(
    env: Deployment, bot: InProcessBot
) -> None:
    approval = await bot.services.opentrain.fund_milestone("ms_batch2")
    approval_id = approval.approval.id
    await track(env.slack, approval_id)
    # OpenTrain starts reporting a word we do not know and never resolves it.
    env.opentrain.state.approvals[approval_id].status = "on_hold"
    env.opentrain.state.advance(APPROVAL_TTL.total_seconds() + 60)
    await bot.settle()
    assert not resolved(env.slack, approval_id)  # within the hour: still waiting

    env.opentrain.state.advance(GIVE_UP_AFTER_EXPIRY.total_seconds())
    await landed_once(env, bot, approval_id)
    assert "on_hold" in card_text(env.slack, approval_id)
    audit = await bot.services.store.read_audit(approval_id=approval_id)
    assert [e.details for e in audit if e.action == "ended_unknown"] == [{"status": "on_hold"}]
    await no_reads_after_expiry(env, bot, approval_id)


@pytest.mark.parametrize("emits", [True, False], ids=["expiry-event", "no-expiry-event"])
async def test_expiry_lands_once_whether_or_not_opentrain_fires_an_event(
    env: Deployment, bot: InProcessBot, emits: bool
) -> None:
    """Whether a lazily expired approval fires `approval.confirmed` is unconfirmed (§7.3):
    the bot's own read just after `expiresAt` is what flips it, event or not."""
    configure(env, emitEventOnLazyExpiry=emits)
    approval_id = await request_hire(env.opentrain, "prop_ada")
    await track(env.slack, approval_id)
    env.opentrain.state.advance(APPROVAL_TTL.total_seconds() + 60)
    await landed_once(env, bot, approval_id)
    assert "Expired" in card_text(env.slack, approval_id)
    await no_reads_after_expiry(env, bot, approval_id)
