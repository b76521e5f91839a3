"""Slack pacing shared through a real redis-server: two pacers (as two replicas would hold)
grant together what one bucket allows, a Retry-After hold reaches both, and a Redis that
does not answer leaves each pacing alone.

Times are Redis `TIME` (what the scripts compute with), read before and after; nothing
asserts how fast a call went, only that no more turns were granted than the bucket allows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import socket
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from redis.asyncio import Redis

from bot.pacing import limit_of
from bot.pacing_redis import PREFIX, RETRY_SHARED_AFTER, SharedPacer
from tests.support.redis_server import RedisServer

TIER_3 = "chat.update"
POST = "chat.postMessage"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def redis_time(redis: Redis) -> float:
    seconds, micros = await redis.time()
    return seconds + micros / 1_000_000


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
async def replicas(redis_url: str) -> AsyncIterator[list[SharedPacer]]:
    """Two pacers on their own connections, as two bot processes hold them."""
    async with AsyncExitStack() as stack:
        pacers = []
        for owner in ("replica-1", "replica-2"):
            pacer = SharedPacer.connect(redis_url, owner=owner, scale=20)
            stack.push_async_callback(pacer.aclose)
            pacers.append(pacer)
        yield pacers


@pytest.mark.parametrize(("method", "channel", "turns"), [(TIER_3, None, 40), (POST, "C1", 30)])
async def test_two_replicas_together_take_no_more_turns_than_one_bucket_allows(
    replicas: list[SharedPacer], redis: Redis, method: str, channel: str | None, turns: int
) -> None:
    granted = [0, 0]

    async def caller(replica: int) -> None:
        while sum(granted) < turns:
            await replicas[replica].acquire(method, channel)
            granted[replica] += 1

    started = await redis_time(redis)
    # Three lanes in each replica, all wanting the same bucket at once.
    await asyncio.wait_for(
        asyncio.gather(*(caller(replica) for replica in (0, 1, 0, 1, 0, 1))), timeout=60
    )
    elapsed = await redis_time(redis) - started

    limit = limit_of(method, channel, scale=20)
    assert limit is not None
    # A bucket of `burst` refilled at `per_second` grants at most this many in `elapsed`.
    allowed = math.floor(limit.burst + limit.per_second * elapsed)
    assert sum(granted) <= allowed, f"{granted} in {elapsed:.3f} s, bucket allows {allowed}"
    assert all(granted), granted  # both replicas had turns
    # Two buckets of their own would have allowed about twice as many: the limit was shared.
    assert sum(granted) >= turns


async def test_keys_expire_on_their_own(replicas: list[SharedPacer], redis: Redis) -> None:
    await replicas[0].acquire(TIER_3)
    await replicas[1].acquire(POST, "C1")
    await replicas[0].hold(POST, "C2", 2)
    keys = [key async for key in redis.scan_iter(match=f"{PREFIX}*")]
    assert len(keys) == 4  # two buckets, one hold, the replicas
    for key in keys:
        assert await redis.pttl(key) > 0, key


async def test_a_retry_after_hold_reaches_the_other_replica(
    replicas: list[SharedPacer], redis: Redis
) -> None:
    first, other = replicas
    await other.acquire(POST, "C1")  # the bucket is known and has turns left
    held_from = await redis_time(redis)
    await first.hold(POST, "C1", 1)  # Slack told the first replica: Retry-After: 1

    await other.unheld(POST, "C1")
    assert await redis_time(redis) >= held_from + 1
    await other.acquire(POST, "C1")  # the hold is over: a turn at once
    await other.unheld(POST, "C2")  # another channel was never held


async def test_a_hold_also_holds_the_next_take(replicas: list[SharedPacer], redis: Redis) -> None:
    first, other = replicas
    held_from = await redis_time(redis)
    await first.hold(TIER_3, None, 1)
    await other.acquire(TIER_3)
    assert await redis_time(redis) >= held_from + 1


async def test_a_redis_that_does_not_answer_leaves_each_process_pacing_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    pacer = SharedPacer.connect(f"redis://127.0.0.1:{closed_port()}/0", owner="lone", scale=1000)
    try:
        with caplog.at_level(logging.INFO, logger="bot.pacing_redis"):
            for _ in range(3):
                await asyncio.wait_for(pacer.acquire(POST, "C1"), timeout=30)
                await asyncio.wait_for(pacer.acquire(TIER_3), timeout=30)
            await pacer.hold(POST, "C1", 0.01)
            await asyncio.wait_for(pacer.unheld(POST, "C1"), timeout=30)
        assert not pacer.shared
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1  # once per outage, not once per call
        assert "pacing this process alone" in warnings[0].getMessage()
    finally:
        await pacer.aclose()


class StoppedClock:
    """A monotonic clock that moves only when told (when to ask Redis again)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_pacing_is_shared_again_once_redis_answers(
    redis_server: RedisServer, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    clock = StoppedClock()
    pacer = SharedPacer(Redis.from_url(redis_url), owner="p", scale=1000, monotonic=clock)
    try:
        with caplog.at_level(logging.INFO, logger="bot.pacing_redis"):
            await pacer.acquire(TIER_3)
            assert pacer.shared
            redis_server.kill()
            await pacer.acquire(TIER_3)
            assert not pacer.shared
            redis_server.start()
            await pacer.acquire(TIER_3)  # too soon to ask Redis again: still alone
            assert not pacer.shared
            clock.now += RETRY_SHARED_AFTER
            await pacer.acquire(TIER_3)
            assert pacer.shared
        messages = [r.getMessage() for r in caplog.records]
        assert sum("pacing this process alone" in m for m in messages) == 1
        assert sum("shared through redis again" in m for m in messages) == 1
    finally:
        await pacer.aclose()
        if not redis_server.running:
            redis_server.start()
