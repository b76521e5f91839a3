"""Two `python -m bot serve` processes on one Redis: the work is shared, never doubled.

Each outcome must produce exactly one card update and one thread reply whichever
replica learns it; when the feed leader is SIGKILLed, the other replica takes
the feed over within the lease time.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from bot.store import RedisStore
from bot.tracker import FEED_LEASE, feed_lease_ttl
from tests.support.processes import (
    CHANNEL,
    FAST,
    BotProcess,
    Deployment,
    add_proposals,
    card,
    effect_posts,
    outcome_replies,
    request_hire,
    resolved,
    track,
    updates_requests,
)
from tests.support.wait import wait_for

# Scheduling noise on a loaded CI machine, on top of the lease and one poll interval.
TAKEOVER_SLACK = timedelta(seconds=2)


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    opened = await RedisStore.connect(redis_url)
    yield opened
    await opened.close()


async def test_two_replicas_share_the_work_and_a_standby_takes_over_the_feed(
    env: Deployment, redis_url: str, store: RedisStore
) -> None:
    replicas = [
        await env.spawn_bot(redis_url=redis_url, entry=True),
        await env.spawn_bot(redis_url=redis_url, entry=False),
    ]
    approvals = [await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, 6)]
    for approval_id in approvals:
        await track(env.slack, approval_id)

    for approval_id in approvals[:3]:
        env.opentrain.state.confirm(approval_id)
    for approval_id in approvals[:3]:
        await wait_for(lambda a=approval_id: resolved(env.slack, a), message=f"{approval_id}")
    # Quiet before the kill: nothing the leader claimed is left waiting out its lease.
    await wait_for(lambda: _outbox_empty(store), message="outbox drained")

    holder = await store.lease_holder(FEED_LEASE)
    [leader] = [bot for bot in replicas if bot.owns(holder)]
    [standby] = [bot for bot in replicas if bot is not leader]
    leader.kill()
    killed_at = time.monotonic()
    since = len(env.opentrain.requests)

    await wait_for(
        lambda: _leads(store, standby), timeout=30, interval=0.05, message="standby leads"
    )
    took_over = time.monotonic() - killed_at
    ttl = feed_lease_ttl(timedelta(seconds=FAST["ot_poll_interval_seconds"]))
    bound = ttl + timedelta(seconds=FAST["ot_poll_interval_seconds"]) + TAKEOVER_SLACK
    assert took_over <= bound.total_seconds(), f"took {took_over:.2f} s, bound {bound}"

    for approval_id in approvals[3:]:
        env.opentrain.state.confirm(approval_id)
    for approval_id in approvals[3:]:
        await wait_for(lambda a=approval_id: resolved(env.slack, a), message=f"{approval_id}")
    await wait_for(lambda: _outbox_empty(store), message="outbox drained")
    polls = updates_requests(env.opentrain, since)
    await wait_for(
        lambda: len(updates_requests(env.opentrain, since)) >= len(polls) + 3,
        message="more feed polls after the last outcome",
    )

    assert standby.alive
    for approval_id in approvals:
        found = card(env.slack, approval_id)
        assert found is not None and len(found.edits) == 1  # one card update per outcome
        assert len(outcome_replies(env.slack, approval_id)) == 1
    assert all(count == 1 for count in effect_posts(env.slack, CHANNEL).values())
    assert "Traceback" not in standby.output()


async def _outbox_empty(store: RedisStore) -> bool:
    return await store.count_effects(done=False) == 0


async def _leads(store: RedisStore, bot: BotProcess) -> bool:
    return bot.owns(await store.lease_holder(FEED_LEASE))
