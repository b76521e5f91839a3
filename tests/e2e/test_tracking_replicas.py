"""Two `python -m bot serve` processes on one Redis: the work is shared, never doubled.

Each outcome must produce exactly one card update and one thread reply whichever
replica learns it; when the feed leader is SIGKILLed, the other replica takes
the feed over within the lease's TTL and one heartbeat (bot/feed_lease.py),
however long the poll interval, and polls at once.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bot.feed_lease import FEED_LEASE, HEARTBEAT, LEASE_TTL
from bot.store import RedisStore
from tests.support.processes import (
    CHANNEL,
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

# Scheduling noise on a loaded CI machine, on top of the lease and one heartbeat.
TAKEOVER_SLACK_S = 2.0
# Far longer than any wait below: whatever happens within them is not the poll schedule.
SLOW_POLL_S = 600


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
    bound = (LEASE_TTL + HEARTBEAT).total_seconds() + TAKEOVER_SLACK_S
    assert took_over <= bound, f"took {took_over:.2f} s, bound {bound} s"

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


async def test_a_standby_takes_over_on_its_heartbeat_and_polls_at_once_whatever_the_interval(
    env: Deployment, redis_url: str, store: RedisStore
) -> None:
    # Polls every 10 minutes: only the lease's heartbeat, and the poll a new leader kicks
    # at once, can bring the outcome below within the waits' 30 s.
    slow = {"ot_poll_interval_seconds": SLOW_POLL_S}
    first = await env.spawn_bot(redis_url=redis_url, entry=True, **slow)
    await wait_for(lambda: _leads(store, first), timeout=30, message="the first bot leads")
    second = await env.spawn_bot(redis_url=redis_url, entry=False, **slow)
    [approval_id] = [await request_hire(env.opentrain, p) for p in add_proposals(env.opentrain, 1)]
    await track(env.slack, approval_id)
    await wait_for(lambda: _outbox_empty(store), timeout=30, message="outbox drained")
    since = len(env.opentrain.requests)

    first.kill()
    env.opentrain.state.confirm(approval_id)

    await wait_for(lambda: _leads(store, second), timeout=30, message="the standby leads")
    await wait_for(
        lambda: resolved(env.slack, approval_id), timeout=30, message="the outcome after the kill"
    )
    assert updates_requests(env.opentrain, since)  # the new leader's own poll found it
    assert len(outcome_replies(env.slack, approval_id)) == 1
    assert "Traceback" not in second.output()


async def _outbox_empty(store: RedisStore) -> bool:
    return await store.count_effects(done=False) == 0


async def _leads(store: RedisStore, bot: BotProcess) -> bool:
    return bot.owns(await store.lease_holder(FEED_LEASE))
