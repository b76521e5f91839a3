"""The feed lease's timing (bot/feed_lease.py), on a fake clock and an in-memory lease table.

A standby takes over within TTL + one heartbeat of the leader's last renewal, whatever
the poll interval; the leader stops leading before its lease can lapse in the store.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.feed_lease import FEED_LEASE, HEARTBEAT, LEASE_TTL, MARGIN, FeedLease
from bot.store import StoreUnavailable


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Leases:
    """The store's lease operations: expiry by the same clock; a call may take time or fail."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.held: dict[str, tuple[str, float]] = {}
        self.latency = 0.0  # seconds a renewal takes to arrive
        self.failing = False

    async def acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        if self.failing:
            raise StoreUnavailable("redis at 127.0.0.1:6379: connection refused")
        self.clock.advance(self.latency)  # the TTL starts when the store gets the call
        holder = self.held.get(name)
        if holder is not None and holder[0] != owner and holder[1] > self.clock.now:
            return False
        self.held[name] = (owner, self.clock.now + ttl.total_seconds())
        return True

    async def release_lease(self, name: str, owner: str) -> bool:
        holder = self.held.get(name)
        if holder is None or holder[0] != owner:
            return False
        del self.held[name]
        return True

    async def lease_holder(self, name: str) -> str | None:
        holder = self.held.get(name)
        return holder[0] if holder is not None and holder[1] > self.clock.now else None


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def leases(clock: Clock) -> Leases:
    return Leases(clock)


class Kicks:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def lease(leases: Leases, clock: Clock, owner: str, kicks: Kicks | None = None) -> FeedLease:
    return FeedLease(leases, owner, on_gained=kicks or Kicks(), monotonic=clock)  # type: ignore[arg-type]


def test_the_defaults_give_a_failover_under_five_seconds() -> None:
    # Kill → lease lapsed (TTL) → a standby's next heartbeat → the outcome ~0.1 s later.
    worst = (LEASE_TTL + HEARTBEAT).total_seconds()
    assert worst == 4.0


def test_a_lease_must_outlast_a_heartbeat_by_twice_the_margin(leases: Leases) -> None:
    with pytest.raises(ValueError):
        FeedLease(leases, "a", ttl=timedelta(seconds=1), heartbeat=timedelta(seconds=1))  # type: ignore[arg-type]
    # The old per-poll timing (the failover benchmark's baseline) is allowed.
    FeedLease(leases, "a", ttl=timedelta(seconds=30), heartbeat=timedelta(seconds=10))  # type: ignore[arg-type]


async def test_the_leader_stops_leading_a_margin_before_its_lease_can_lapse(
    leases: Leases, clock: Clock
) -> None:
    leader = lease(leases, clock, "a")
    sent = clock.now
    leases.latency = 0.4  # the store's TTL starts 0.4 s after the leader's count
    assert await leader.hold()

    clock.now = sent + (LEASE_TTL - MARGIN).total_seconds() - 0.01
    assert leader.leading
    clock.now = sent + (LEASE_TTL - MARGIN).total_seconds()
    assert not leader.leading
    assert await leases.lease_holder(FEED_LEASE) == "a"  # still "a" in the store: no overlap


async def test_renewals_on_the_heartbeat_keep_the_lease_and_kick_nothing(
    leases: Leases, clock: Clock
) -> None:
    kicks = Kicks()
    leader = lease(leases, clock, "a", kicks)
    await leader.beat()
    assert leader.leading and kicks.count == 1  # gained: the feed is polled at once
    for _ in range(20):
        clock.advance(HEARTBEAT.total_seconds())
        await leader.beat()
        assert leader.leading
    assert kicks.count == 1


async def test_a_standby_cannot_take_a_renewed_lease(leases: Leases, clock: Clock) -> None:
    leader, standby = lease(leases, clock, "a"), lease(leases, clock, "b")
    await leader.beat()
    for _ in range(10):
        clock.advance(HEARTBEAT.total_seconds() / 2)
        await standby.beat()
        clock.advance(HEARTBEAT.total_seconds() / 2)
        await leader.beat()
        assert leader.leading and not standby.leading


@pytest.mark.parametrize("phase", [0.0, 0.25, 0.5, 0.75, 0.99])
async def test_a_standby_takes_over_within_the_ttl_and_a_heartbeat_of_a_kill(
    leases: Leases, clock: Clock, phase: float
) -> None:
    kicks = Kicks()
    leader, standby = lease(leases, clock, "a"), lease(leases, clock, "b", kicks)
    killed_at = clock.now
    await leader.beat()  # its last renewal: killed right after (its lease then runs longest)
    beats = 0
    while not standby.leading:
        # The standby beats every HEARTBEAT, `phase` of one after the leader did.
        clock.now = killed_at + (phase + beats) * HEARTBEAT.total_seconds()
        await standby.beat()
        beats += 1
        assert beats < 10, "no takeover"
    took = clock.now - killed_at
    assert LEASE_TTL.total_seconds() <= took <= (LEASE_TTL + HEARTBEAT).total_seconds()
    assert kicks.count == 1  # the new leader polls at once
    assert not leader.leading  # the dead one had stopped before


async def test_a_store_error_stops_the_leader_at_once_and_it_comes_back_after(
    leases: Leases, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    kicks = Kicks()
    leader = lease(leases, clock, "a", kicks)
    await leader.beat()
    caplog.set_level(logging.DEBUG, logger="bot.feed_lease")
    leases.failing = True
    clock.advance(HEARTBEAT.total_seconds())
    await leader.beat()  # logged, never raised: the heartbeat goes on
    assert not leader.leading
    clock.advance(HEARTBEAT.total_seconds())
    await leader.beat()
    # An outage is told once when it starts, not every second.
    told = [r.levelname for r in caplog.records if "feed lease not renewed" in r.getMessage()]
    assert told == ["WARNING", "DEBUG"]
    with pytest.raises(StoreUnavailable):
        await leader.hold()  # the tracker's own renewal raises: its poll fails

    leases.failing = False
    clock.advance(HEARTBEAT.total_seconds())
    await leader.beat()
    assert leader.leading and kicks.count == 2  # its lease was still its own: it polls again


async def test_a_lost_lease_stops_the_leader(leases: Leases, clock: Clock) -> None:
    leader, other = lease(leases, clock, "a"), lease(leases, clock, "b")
    await leader.beat()
    clock.advance(LEASE_TTL.total_seconds())  # the leader stalled past its TTL
    await other.beat()
    assert other.leading
    assert not leader.leading
    assert not await leader.hold()  # its renewal is refused, and it knows
    assert not leader.leading


async def test_resigning_hands_the_lease_over_at_once(leases: Leases, clock: Clock) -> None:
    leader, standby = lease(leases, clock, "a"), lease(leases, clock, "b")
    await leader.beat()
    await leader.resign()
    assert not leader.leading
    assert await leases.lease_holder(FEED_LEASE) is None
    await standby.beat()
    assert standby.leading
    await leader.resign()  # nothing held: nothing released
    assert await leases.lease_holder(FEED_LEASE) == "b"
