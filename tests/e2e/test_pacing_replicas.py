"""Two `python -m bot serve` processes on one Redis against the Slack simulator's real
rate limits (time-scaled): a burst of outcomes both replicas deliver.

Slack's Tier 3 admits 50 `chat.update` calls per window workspace-wide. Each replica
pacing alone would use nearly all of that itself, so two of them together provoke 429s
(the per-process case shows it); sharing the buckets through Redis, they provoke none.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bench._processes import add_channels, all_landed, confirm, landing, seed_pending
from bot.store import RedisStore
from tests.support.processes import BotProcess, Deployment, deployment, updates_requests
from tests.support.wait import wait_for

SCALE = 10  # Slack's windows last 60 / 10 = 6 s
OUTCOMES = 60  # more card updates than one Tier 3 window admits
CHANNELS = 4


@pytest.fixture
async def limited(tmp_path: Path) -> AsyncIterator[Deployment]:
    """Both simulators, the Slack one enforcing Slack's limits at time scale SCALE."""
    options = {"rate_limits": True, "rate_limit_scale": SCALE}
    async with deployment(tmp_path, slack_options=options) as running:
        yield running


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[RedisStore]:
    opened = await RedisStore.connect(redis_url)
    yield opened
    await opened.close()


@pytest.mark.parametrize("shared", [True, False], ids=["shared", "per-process"])
async def test_two_replicas_pacing_through_redis_provoke_no_429_in_a_burst(
    limited: Deployment, redis_url: str, store: RedisStore, shared: bool
) -> None:
    env = limited
    channels = add_channels(env.slack, CHANNELS)
    seeded = await seed_pending(env.opentrain, env.slack, store, count=OUTCOMES, channels=channels)
    replicas = [
        await env.spawn_bot(
            redis_url=redis_url,
            slack_rate_limit_scale=SCALE,
            slack_shared_pacing=shared,
            entry=number == 0,
        )
        for number in range(2)
    ]
    await wait_for(lambda: updates_requests(env.opentrain), message="the first feed poll")
    limited_before = env.slack.state.rate_limited

    confirm(env.opentrain, (item.approval_id for item in seeded))
    await wait_for(
        lambda: all_landed(env.slack, seeded), timeout=90, interval=0.1, message="every outcome"
    )
    await wait_for(lambda: _outbox_empty(store), timeout=60, message="an empty outbox")

    for item in seeded:
        found = landing(env.slack, item)
        assert (found.card_updates, found.replies) == (1, 1), item
    updates = [_updates_delivered(bot) for bot in replicas]
    assert all(updates), updates  # both replicas updated cards during the burst
    rate_limited = env.slack.state.rate_limited - limited_before
    if shared:
        assert rate_limited == 0, f"{rate_limited} 429s; card updates per replica {updates}"
    else:
        assert rate_limited > 0  # the burst does outrun Slack when each replica paces alone
    for bot in replicas:
        assert "Traceback" not in bot.output()


async def _outbox_empty(store: RedisStore) -> bool:
    return await store.count_effects(done=False) == 0


def _updates_delivered(bot: BotProcess) -> int:
    return len(re.findall(r"slack effect delivered .*kind=update_card", bot.output()))
