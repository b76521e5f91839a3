"""A delivery never outlives its claim: three replicas, and a card post held up by 429s.

Three `python -m bot serve` processes share one Redis. The card's first post meets a
429; its replica waits out `Retry-After` in the lane. Meanwhile the claim lapses
(the clock the bots follow moves past the claim's lease), so another replica
claims the card and posts it. When the first one wakes up it must leave the card
alone: one card, one update, one reply.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.notifier import CLAIM_LEASE
from bot.sandbox.faults import FaultSpec
from tests.support.processes import (
    CHANNEL,
    USER,
    Deployment,
    add_proposals,
    card,
    card_text,
    deployment,
    effect_posts,
    outcome_replies,
    request_hire,
    resolved,
)
from tests.support.wait import wait_for

# Not a value the bot would assume: it must wait what Slack says.
RETRY_AFTER_S = 7


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[Deployment]:
    async with deployment(tmp_path) as running:
        yield running


async def test_a_post_held_past_its_claim_by_429s_lands_once_across_three_replicas(
    env: Deployment, redis_url: str
) -> None:
    replicas = [await env.spawn_bot(redis_url=redis_url, entry=i == 0) for i in range(3)]
    [proposal] = add_proposals(env.opentrain, 1)
    approval_id = await request_hire(env.opentrain, proposal)
    held = FaultSpec(path="chat.postMessage", status=429, retry_after=RETRY_AFTER_S, count=2)
    env.slack.faults.add(held)

    result = await env.slack.send_command(
        command="/opentrain", text=f"track {approval_id}", user_id=USER, channel_id=CHANNEL
    )
    assert result.ok, result.to_dict()
    await wait_for(
        lambda: env.slack.faults.describe()[0]["remaining"] == 1,
        timeout=30,
        message="the first post was answered 429",
    )
    # While its replica waits out Retry-After, its claim lapses: another replica takes it.
    env.opentrain.state.advance(CLAIM_LEASE.total_seconds() + 60)

    await wait_for(lambda: card(env.slack, approval_id), timeout=60, message="the card")
    assert env.slack.faults.describe() == []
    env.opentrain.state.confirm(approval_id)
    await wait_for(lambda: resolved(env.slack, approval_id), timeout=60, message="outcome")
    # The first holder woke up (Retry-After is long past) and stood back.
    assert all(bot.alive for bot in replicas)
    await wait_for(
        lambda: "slack effect left at its claim's end" in "".join(b.output() for b in replicas),
        message="the first holder standing back",
    )
    assert "Confirmed" in card_text(env.slack, approval_id)
    assert set(effect_posts(env.slack, CHANNEL).values()) == {1}, effect_posts(env.slack, CHANNEL)
    assert len(outcome_replies(env.slack, approval_id)) == 1
