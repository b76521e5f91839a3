"""The shared pacer's pure parts and its decisions, on a Redis played by a fake: what it asks
Redis, how it waits on the answers, and how it paces alone while Redis does not answer.
(The Lua scripts themselves run against a real redis-server: tests/integration.)"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.config import Settings
from bot.pacing import HEADROOM, SlackPacer, catch_up, limit_of
from bot.pacing_redis import (
    HELD,
    HOLD,
    MICROS,
    PREFIX,
    RETRY_SHARED_AFTER,
    TAKE,
    SharedPacer,
    gcra,
    local_share,
    open_pacer,
)

POST = "chat.postMessage"


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


class FakeRedis:
    """Answers each script with the next of its queued answers (an exception is raised)."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Any]] = {"take": [], "hold": [], "held": []}
        self.asked: list[tuple[str, list[str], tuple[Any, ...]]] = []
        self.closed = False

    def register_script(self, source: str) -> Callable[..., Any]:
        name = {TAKE: "take", HOLD: "hold", HELD: "held"}[source]

        async def run(keys: list[str], args: tuple[Any, ...]) -> Any:
            self.asked.append((name, keys, args))
            queued = self.answers[name]
            answer = queued.pop(0) if queued else {"take": [0, 1], "hold": 0, "held": 0}[name]
            if isinstance(answer, Exception):
                raise answer
            return answer

        return run

    async def aclose(self) -> None:
        self.closed = True


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def redis() -> FakeRedis:
    return FakeRedis()


def shared(redis: FakeRedis, time: FakeTime, scale: float = 1.0) -> SharedPacer:
    return SharedPacer(
        redis,  # type: ignore[arg-type]
        owner="host:1:abc",
        scale=scale,
        monotonic=time.monotonic,
        sleep=time.sleep,
    )


# --- the limits as buckets ---------------------------------------------------------------


def test_each_limit_is_one_bucket_a_little_under_slacks_rate() -> None:
    update = limit_of("chat.update", "C1", scale=2)
    assert update is not None
    assert update.key == "method:chat.update"  # Tier 3 is workspace-wide
    assert update.per_second == pytest.approx(50 / 60 * HEADROOM * 2)
    assert update.burst == 1 + catch_up(50)
    post = limit_of(POST, "C1")
    assert post is not None
    assert (post.key, post.burst) == ("channel:C1", 1.0)
    assert post.per_second == pytest.approx(HEADROOM)
    assert limit_of("team.info", None) is None  # a method we do not model
    assert limit_of(POST, None) is None  # a post whose channel we do not know


def test_gcra_spaces_turns_by_the_rate_and_banks_what_the_bucket_may() -> None:
    update = limit_of("chat.update", None)
    assert update is not None
    interval, tolerance = gcra(update)
    assert interval == pytest.approx(MICROS * 60 / (50 * HEADROOM))
    assert tolerance == pytest.approx(catch_up(50) * interval)
    post = limit_of(POST, "C1")
    assert post is not None
    assert gcra(post)[1] == 0  # a channel's one post per second leaves nothing to bank


def test_alone_a_process_takes_its_share_of_the_rate() -> None:
    assert local_share(20.0, 4) == 5.0
    assert local_share(20.0, 1) == 20.0
    assert local_share(20.0, 0) == 20.0  # replicas not known: the whole rate


# --- asking Redis ------------------------------------------------------------------------


async def test_a_take_names_the_bucket_and_the_replica(redis: FakeRedis, time: FakeTime) -> None:
    pacer = shared(redis, time, scale=10)
    await pacer.acquire(POST, "C9")
    [(name, keys, args)] = redis.asked
    post = limit_of(POST, "C9", scale=10)
    assert post is not None
    assert name == "take"
    assert keys == [f"{PREFIX}channel:C9", f"{PREFIX}replicas"]
    assert args[:3] == (*gcra(post), "host:1:abc")
    assert time.sleeps == []


async def test_a_take_that_must_wait_sleeps_then_asks_again(
    redis: FakeRedis, time: FakeTime
) -> None:
    redis.answers["take"] = [[250_000, 2], [1_000, 2], [0, 2]]
    await shared(redis, time).acquire("chat.update")
    assert time.sleeps == [0.25, 0.001]
    assert len(redis.asked) == 3


async def test_calls_not_paced_ask_redis_nothing(redis: FakeRedis, time: FakeTime) -> None:
    pacer = shared(redis, time)
    await pacer.acquire("team.info")
    await pacer.acquire(POST)
    await pacer.hold("team.info", None, 5)
    await pacer.unheld(POST)
    assert redis.asked == []


async def test_a_hold_is_written_for_every_replica_and_waited_out(
    redis: FakeRedis, time: FakeTime
) -> None:
    pacer = shared(redis, time)
    await pacer.hold(POST, "C1", 7)
    [(name, keys, args)] = redis.asked
    assert (name, keys, args) == ("hold", [f"{PREFIX}channel:C1"], (7 * MICROS, 0.0))
    redis.answers["held"] = [3_000_000, 0]
    await pacer.unheld(POST, "C1")
    assert time.sleeps == [3.0]


async def test_one_process_asks_for_one_bucket_one_caller_at_a_time(
    redis: FakeRedis, time: FakeTime
) -> None:
    pacer = shared(redis, time)
    asking = 0
    most = 0
    take = redis.register_script(TAKE)

    async def counted(keys: list[str], args: tuple[Any, ...]) -> Any:
        nonlocal asking, most
        asking += 1
        most = max(most, asking)
        await asyncio.sleep(0)
        try:
            return await take(keys=keys, args=args)
        finally:
            asking -= 1

    pacer._take = counted  # type: ignore[assignment]
    await asyncio.gather(*(pacer.acquire("chat.update") for _ in range(5)))
    assert most == 1


# --- when Redis does not answer ----------------------------------------------------------


async def test_without_redis_a_process_paces_alone_at_its_share(
    redis: FakeRedis, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    redis.answers["take"] = [[0, 3], RedisConnectionError("refused")]
    pacer = shared(redis, time)
    await pacer.acquire(POST, "C1")  # shared: Redis says three replicas take turns
    with caplog.at_level(logging.WARNING, logger="bot.pacing_redis"):
        for _ in range(3):
            await pacer.acquire(POST, "C1")
    assert not pacer.shared
    # A third of a channel's pace: a post every 3 / HEADROOM s instead of 1 / HEADROOM.
    assert time.sleeps == [pytest.approx(3 / HEADROOM)] * 2
    assert len(redis.asked) == 2  # not asked again until RETRY_SHARED_AFTER
    [warning] = caplog.records
    assert "share=1/3" in warning.getMessage()


async def test_a_process_that_never_reached_redis_paces_alone_at_the_full_rate(
    redis: FakeRedis, time: FakeTime
) -> None:
    redis.answers["take"] = [RedisTimeoutError("timed out")]
    pacer = shared(redis, time)
    await pacer.acquire(POST, "C1")
    await pacer.acquire(POST, "C1")
    assert time.sleeps == [pytest.approx(1 / HEADROOM)]


async def test_holds_and_waits_stay_local_while_redis_is_away(
    redis: FakeRedis, time: FakeTime
) -> None:
    redis.answers["hold"] = [OSError("unreachable")]
    pacer = shared(redis, time, scale=1000)
    await pacer.hold(POST, "C1", 4)
    await pacer.unheld(POST, "C1")
    assert time.sleeps == [4.0]
    assert [name for name, _, _ in redis.asked] == ["hold"]


async def test_redis_is_asked_again_after_a_while_and_sharing_resumes(
    redis: FakeRedis, time: FakeTime, caplog: pytest.LogCaptureFixture
) -> None:
    redis.answers["take"] = [RedisConnectionError("refused")]
    pacer = shared(redis, time, scale=1000)
    with caplog.at_level(logging.INFO, logger="bot.pacing_redis"):
        await pacer.acquire("chat.update")
        await pacer.acquire("chat.update")
        assert len(redis.asked) == 1
        time.now += RETRY_SHARED_AFTER
        await pacer.acquire("chat.update")
    assert pacer.shared
    assert len(redis.asked) == 2
    assert [r.levelname for r in caplog.records] == ["WARNING", "INFO"]


# --- choosing the pacing -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "kind"),
    [
        ({}, SlackPacer),
        ({"redis_url": "redis://127.0.0.1:1/0"}, SharedPacer),
        ({"redis_url": "redis://127.0.0.1:1/0", "slack_shared_pacing": False}, SlackPacer),
    ],
)
async def test_the_pacing_is_shared_when_the_store_is_redis(
    settings: dict[str, Any], kind: type
) -> None:
    pacer = open_pacer(Settings.model_validate(settings), owner="me")
    try:
        assert type(pacer) is kind
    finally:
        await pacer.aclose()


async def test_while_one_caller_finds_out_whether_redis_is_back_the_others_stay_local(
    redis: FakeRedis, time: FakeTime
) -> None:
    redis.answers["take"] = [RedisConnectionError("refused")]
    pacer = shared(redis, time, scale=1000)
    await pacer.acquire("chat.update")  # Redis away: alone from now on
    time.now += RETRY_SHARED_AFTER
    answering = asyncio.Event()
    take = redis.register_script(TAKE)

    async def slow(keys: list[str], args: tuple[Any, ...]) -> Any:
        await answering.wait()  # a Redis that takes its time to answer the probe
        return await take(keys=keys, args=args)

    pacer._take = slow  # type: ignore[assignment]
    probe = asyncio.create_task(pacer.acquire("chat.update"))
    await asyncio.sleep(0)
    await pacer.acquire(POST, "C1")  # meanwhile: local, without asking Redis
    assert [name for name, _, _ in redis.asked] == ["take"]
    answering.set()
    await probe
    assert pacer.shared
