"""The scheduler on a real APScheduler in this event loop: kicks, periodic ticks, shutdown."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import FixedClock
from bot.scheduler import CLOCK_SYNC_EVERY_SECONDS, ClockSync, Scheduler
from tests.support.wait import wait_for

HOUR = timedelta(hours=1)  # periodic ticks that never come back during a test


class Gate:
    """A tick that blocks until released, counting how often it started."""

    def __init__(self) -> None:
        self.started = 0
        self.release = asyncio.Event()

    async def tick(self) -> None:
        self.started += 1
        await self.release.wait()
        self.release.clear()


@pytest.fixture
async def scheduler() -> AsyncIterator[Scheduler]:
    running = Scheduler(FixedClock(datetime(2030, 1, 1, tzinfo=UTC)))
    yield running
    await running.shutdown(grace=0.1)


async def test_every_job_runs_once_at_start(scheduler: Scheduler) -> None:
    runs: list[str] = []

    async def tick() -> None:
        runs.append("tick")

    job = scheduler.every("job", HOUR, tick)
    scheduler.start()
    await wait_for(lambda: job.runs == 1, message="first run")
    assert runs == ["tick"]


async def test_a_kick_runs_an_idle_job_now(scheduler: Scheduler) -> None:
    gate = Gate()
    job = scheduler.every("job", HOUR, gate.tick)
    scheduler.start()
    await wait_for(lambda: gate.started == 1, message="first run")
    gate.release.set()
    await wait_for(lambda: job.runs == 1 and not job.running, message="first run done")

    scheduler.kick("job")
    assert job.running  # started synchronously, no waiting for APScheduler
    await wait_for(lambda: gate.started == 2, message="kicked run")
    gate.release.set()
    await wait_for(lambda: job.runs == 2, message="kicked run done")


async def test_kicks_during_a_run_make_exactly_one_more_run(scheduler: Scheduler) -> None:
    gate = Gate()
    job = scheduler.every("job", HOUR, gate.tick)
    scheduler.start()
    await wait_for(lambda: gate.started == 1, message="first run")

    for _ in range(3):
        scheduler.kick("job")
    gate.release.set()
    await wait_for(lambda: gate.started == 2, message="one more run")
    gate.release.set()
    await wait_for(lambda: job.runs == 2 and not job.running, message="runs done")
    assert gate.started == 2


async def test_a_periodic_tick_during_a_run_is_dropped(scheduler: Scheduler) -> None:
    gate = Gate()
    job = scheduler.every("job", timedelta(milliseconds=20), gate.tick)
    scheduler.start()
    await wait_for(lambda: gate.started == 1, message="first run")
    # White-box: APScheduler's own view of the job shows when it fired again.
    timer = scheduler._scheduler.get_job("job")
    assert timer is not None
    fired = timer.next_run_time
    await wait_for(lambda: timer.next_run_time > fired, message="APScheduler fired meanwhile")
    assert gate.started == 1 and job.running
    gate.release.set()
    await wait_for(lambda: job.runs >= 1, message="run done")


async def test_a_failing_tick_is_logged_and_the_job_keeps_running(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    calls: list[int] = []

    async def tick() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")

    job = scheduler.every("job", HOUR, tick)
    scheduler.start()
    await wait_for(lambda: job.runs == 1, message="failed run")
    scheduler.kick("job")
    await wait_for(lambda: job.runs == 2, message="next run")
    assert len(calls) == 2
    assert any("scheduled job failed" in r.getMessage() for r in caplog.records)


async def test_kicks_before_start_and_after_shutdown_are_ignored() -> None:
    runs: list[int] = []

    async def tick() -> None:
        runs.append(1)

    scheduler = Scheduler(FixedClock(datetime(2030, 1, 1, tzinfo=UTC)))
    job = scheduler.every("job", HOUR, tick)
    scheduler.kick("job")
    scheduler.kick("unknown")
    assert not job.running
    scheduler.start()
    await wait_for(lambda: job.runs == 1, message="first run")
    await scheduler.shutdown()
    scheduler.kick("job")
    assert not job.running and runs == [1]


async def test_shutdown_lets_a_short_run_finish(scheduler: Scheduler) -> None:
    finished: list[bool] = []

    async def tick() -> None:
        await asyncio.sleep(0.05)
        finished.append(True)

    job = scheduler.every("job", HOUR, tick)
    scheduler.start()
    await wait_for(lambda: job.running, message="run started")
    await scheduler.shutdown(grace=5)
    assert finished == [True] and not job.running


async def test_shutdown_cancels_a_run_that_outlives_the_grace_without_an_error(
    scheduler: Scheduler, caplog: pytest.LogCaptureFixture
) -> None:
    cancelled = asyncio.Event()

    async def stuck() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    job = scheduler.every("job", HOUR, stuck)
    scheduler.start()
    await wait_for(lambda: job.running, message="run started")
    caplog.set_level(logging.DEBUG)

    await scheduler.shutdown(grace=0.05)

    assert cancelled.is_set() and not job.running
    gc.collect()
    await asyncio.sleep(0)  # let APScheduler's own shutdown callback run
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["scheduled job cancelled at shutdown job=job"]


def test_a_job_needs_a_positive_interval(scheduler: Scheduler) -> None:
    async def tick() -> None:
        return None

    with pytest.raises(ValueError):
        scheduler.every("job", timedelta(0), tick)


class CountingClock(FixedClock):
    def __init__(self) -> None:
        super().__init__(datetime(2030, 1, 1, tzinfo=UTC))
        self.syncs = 0

    async def sync(self) -> None:
        self.syncs += 1


async def test_jobs_ticking_together_share_one_clock_sync() -> None:
    clock = CountingClock()
    now = [0.0]
    sync = ClockSync(clock, monotonic=lambda: now[0])
    await sync()
    await sync()
    now[0] += CLOCK_SYNC_EVERY_SECONDS / 2
    await sync()
    assert clock.syncs == 1
    now[0] += CLOCK_SYNC_EVERY_SECONDS
    await sync()
    assert clock.syncs == 2
