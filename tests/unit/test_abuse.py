"""What a stranger may cost (bot/abuse.py): failed authentications per address, sampled log lines.

Time is a fake monotonic clock moved by the tests; nothing sleeps.
"""

from __future__ import annotations

import pytest

from bot.abuse import FailureLimiter, SampledLog

STRANGER = "203.0.113.7"
NEIGHBOUR = "203.0.113.8"


class FakeClock:
    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fail(limiter: FailureLimiter, address: str, times: int) -> None:
    for _ in range(times):
        assert not limiter.blocked(address)  # the endpoint checks before it counts
        limiter.record_failure(address)


# --- FailureLimiter ---------------------------------------------------------------------------


def test_twenty_failures_in_a_minute_block_the_address() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock=clock)
    for _ in range(19):
        limiter.record_failure(STRANGER)
        clock.advance(1)
    assert not limiter.blocked(STRANGER) and limiter.retry_after(STRANGER) == 0
    limiter.record_failure(STRANGER)  # the 20th
    assert limiter.blocked(STRANGER)  # so the 21st request is turned away unheard


def test_the_block_lifts_when_the_oldest_failure_leaves_the_window() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock=clock)
    limiter.record_failure(STRANGER)  # at t=0
    clock.advance(10)
    fail(limiter, STRANGER, 19)  # all at t=10
    assert limiter.retry_after(STRANGER) == 50
    clock.advance(49.5)
    assert limiter.retry_after(STRANGER) == 1  # 0.5 s left, rounded up
    clock.advance(0.5)  # t=60: the first failure is out; 19 remain
    assert limiter.retry_after(STRANGER) == 0
    limiter.record_failure(STRANGER)  # one more guess fills the window again
    assert limiter.retry_after(STRANGER) == 10  # until the t=10 failures leave it
    clock.advance(10)
    assert not limiter.blocked(STRANGER)
    clock.advance(49)  # t=119
    fail(limiter, STRANGER, 19)  # with the one at t=60, still counted
    assert limiter.blocked(STRANGER)


def test_retry_after_is_whole_seconds_rounded_up_and_never_zero_while_blocked() -> None:
    clock = FakeClock(start=0.25)
    limiter = FailureLimiter(limit=3, window=2.0, clock=clock)
    fail(limiter, STRANGER, 3)
    assert limiter.retry_after(STRANGER) == 2
    clock.advance(1.999)
    assert limiter.retry_after(STRANGER) == 1
    clock.advance(0.001)
    assert limiter.retry_after(STRANGER) == 0


def test_other_addresses_are_not_affected() -> None:
    limiter = FailureLimiter(clock=FakeClock())
    fail(limiter, STRANGER, 20)
    assert limiter.blocked(STRANGER)
    assert not limiter.blocked(NEIGHBOUR)
    fail(limiter, NEIGHBOUR, 19)
    assert not limiter.blocked(NEIGHBOUR)


def test_failures_spread_over_more_than_a_minute_never_block() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock=clock)
    for _ in range(200):
        fail(limiter, STRANGER, 1)
        clock.advance(3.01)  # 19.9 a minute


def test_memory_is_bounded_forgetting_the_least_recently_seen() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(max_addresses=100, clock=clock)
    fail(limiter, STRANGER, 20)
    for n in range(99):
        limiter.record_failure(f"198.51.100.{n}")
    assert len(limiter) == 100
    assert limiter.blocked(STRANGER)  # seen again: now the most recent
    for n in range(99, 5000):
        limiter.record_failure(f"10.{n // 256}.{n % 256}.1")
        assert len(limiter) <= 100
    assert not limiter.blocked(STRANGER)  # forgotten for room: the price of the bound


def test_quiet_addresses_are_forgotten_once_their_failures_age_out() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(clock=clock)
    for n in range(500):
        limiter.record_failure(f"198.51.100.{n}")
    clock.advance(61)
    limiter.record_failure(STRANGER)
    assert len(limiter) == 1


def test_at_most_limit_timestamps_are_kept_per_address() -> None:
    limiter = FailureLimiter(limit=5, clock=FakeClock())
    for _ in range(1000):
        limiter.record_failure(STRANGER)  # as if the endpoint did not check
    assert len(limiter._failures[STRANGER]) == 5


def test_nonsense_limits_are_refused() -> None:
    with pytest.raises(ValueError):
        FailureLimiter(limit=0)
    with pytest.raises(ValueError):
        SampledLog(window=0)


# --- SampledLog -------------------------------------------------------------------------------


def test_the_first_ten_lines_a_minute_are_written_then_counted() -> None:
    clock = FakeClock()
    sampler = SampledLog(clock=clock)
    answers = [sampler.admit(STRANGER) for _ in range(147)]
    assert answers[:10] == [0] * 10
    assert answers[10:] == [None] * 137
    assert sampler.admit(NEIGHBOUR) == 0  # per address
    clock.advance(60)
    assert sampler.admit(STRANGER) == 137  # the next line says how many were left out
    assert [sampler.admit(STRANGER) for _ in range(10)] == [0] * 9 + [None]
    clock.advance(60)
    assert sampler.admit(STRANGER) == 1


def test_a_flood_writes_at_most_eleven_lines_a_minute() -> None:
    clock = FakeClock()
    sampler = SampledLog(clock=clock)
    written = []
    for _ in range(5 * 960):  # five minutes, 16 lines a second
        untold = sampler.admit(STRANGER)
        if untold is not None:
            written.append(untold)
        clock.advance(1 / 16)
    assert len(written) == 50  # ten a minute
    assert written[10::10] == [950] * 4  # each minute's first line tells the last one's 950


def test_the_sampler_memory_is_bounded() -> None:
    clock = FakeClock()
    sampler = SampledLog(max_addresses=50, clock=clock)
    for n in range(10_000):
        sampler.admit(f"10.{n // 256}.{n % 256}.1")
        assert len(sampler) <= 50
    clock.advance(61)
    sampler.admit(STRANGER)
    assert len(sampler) == 1  # windows that ended with nothing untold are dropped
