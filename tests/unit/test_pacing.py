"""Token buckets and the Slack pacer on an injected monotonic clock: no real waiting."""

from __future__ import annotations

import asyncio

import pytest

from bot.pacing import HEADROOM, SlackPacer, TokenBucket


class FakeTime:
    """A monotonic clock that moves only when someone sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 6))
        self.now += seconds


@pytest.fixture
def time() -> FakeTime:
    return FakeTime()


def bucket(time: FakeTime, rate: float = 2.0, burst: float = 1.0) -> TokenBucket:
    return TokenBucket(rate, burst, monotonic=time.monotonic, sleep=time.sleep)


async def test_the_first_call_goes_at_once_and_the_next_waits_its_turn(time: FakeTime) -> None:
    paced = bucket(time, rate=2.0)
    await paced.acquire()
    await paced.acquire()
    await paced.acquire()
    assert time.sleeps == [0.5, 0.5]


async def test_a_burst_passes_then_the_rate_applies(time: FakeTime) -> None:
    paced = bucket(time, rate=1.0, burst=3)
    for _ in range(4):
        await paced.acquire()
    assert time.sleeps == [1.0]


async def test_idle_time_refills_but_never_beyond_the_burst(time: FakeTime) -> None:
    paced = bucket(time, rate=1.0, burst=2)
    await paced.acquire()
    await paced.acquire()
    time.now += 60
    for _ in range(3):
        await paced.acquire()
    assert time.sleeps == [1.0]


async def test_waiting_callers_are_served_in_arrival_order(time: FakeTime) -> None:
    paced = bucket(time, rate=4.0)
    served: list[int] = []

    async def caller(number: int) -> None:
        await paced.acquire()
        served.append(number)

    await asyncio.gather(*(caller(n) for n in range(5)))
    assert served == [0, 1, 2, 3, 4]
    assert time.sleeps == [0.25] * 4


async def test_a_hold_pauses_everyone_then_allows_one_call_at_once(time: FakeTime) -> None:
    paced = bucket(time, rate=1.0)
    await paced.acquire()
    paced.hold(7)
    paced.hold(3)  # a shorter hold never shortens a longer one
    await paced.acquire()
    await paced.acquire()
    assert time.sleeps == [7.0, 1.0]


async def test_a_hold_that_has_passed_costs_nothing(time: FakeTime) -> None:
    paced = bucket(time, rate=1.0)
    paced.hold(2)
    time.now += 5
    await paced.acquire()
    assert time.sleeps == []


async def test_waiting_out_a_hold_takes_no_turn(time: FakeTime) -> None:
    slack = pacer(time)
    await slack.unheld("chat.postMessage", "C1")  # nothing held: no wait
    await slack.acquire("chat.postMessage", "C1")
    await slack.hold("chat.postMessage", "C1", 7)
    await slack.unheld("chat.postMessage", "C1")
    assert time.sleeps == [7.0]
    await slack.acquire("chat.postMessage", "C1")  # the hold is over: one call at once
    assert time.sleeps == [7.0]


def test_a_bucket_needs_a_rate_and_room_for_a_token(time: FakeTime) -> None:
    with pytest.raises(ValueError):
        bucket(time, rate=0)
    with pytest.raises(ValueError):
        bucket(time, burst=0.5)


# --- the Slack pacer ---------------------------------------------------------------------


def pacer(time: FakeTime, scale: float = 1.0) -> SlackPacer:
    return SlackPacer(scale, monotonic=time.monotonic, sleep=time.sleep)


async def test_posts_are_paced_per_channel_a_little_under_one_a_second(time: FakeTime) -> None:
    slack = pacer(time)
    await slack.acquire("chat.postMessage", "C1")
    await slack.acquire("chat.postMessage", "C2")  # another channel: its own pace
    assert time.sleeps == []
    await slack.acquire("chat.postMessage", "C1")
    assert time.sleeps == [pytest.approx(1 / HEADROOM)]


async def test_methods_are_paced_by_their_tier_and_scale(time: FakeTime) -> None:
    slack = pacer(time, scale=10)
    await slack.acquire("chat.update", "C1")
    await slack.acquire("chat.update", "C2")  # Tier 3 is per workspace, not per channel
    assert time.sleeps == [pytest.approx(60 / (50 * HEADROOM * 10))]


async def test_unknown_methods_and_channel_less_posts_are_not_paced(time: FakeTime) -> None:
    slack = pacer(time)
    for _ in range(3):
        await slack.acquire("team.info")
        await slack.acquire("chat.postMessage")
    assert time.sleeps == []


async def test_a_429_holds_that_method_in_that_channel_only(time: FakeTime) -> None:
    slack = pacer(time, scale=1000)
    await slack.hold("chat.postMessage", "C1", 4)
    await slack.acquire("chat.postMessage", "C2")
    assert time.sleeps == []
    await slack.acquire("chat.postMessage", "C1")
    assert time.sleeps == [4.0]
    await slack.hold("team.info", None, 9)  # not paced, so nothing to hold
    await slack.acquire("team.info")
    assert time.sleeps == [4.0]
