"""The periodic ticks (feed poll and lease, due checks, outbox, reminders) on APScheduler 3.x.

Thin on purpose: each job calls one service method. Jobs are in-memory; all
cross-process coordination lives in the store (leases, claims), so any number
of replicas can run the same schedule. A job can also be *kicked* to run now
(a webhook rings the feed's doorbell; a new outcome wakes the outbox drain).

Runs of one job never overlap. A kick that arrives during a run makes the job
run once more right after it, so work that arrived mid-run is not left for the
next interval; a periodic tick that finds the job running is dropped (the run
in progress already does that work). APScheduler only keeps time: each run is
a task this module owns, so shutdown can let a run finish and cancel one that
outlives the grace period, without APScheduler reporting the cancellation as a
job failure.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.clock import Clock
from bot.logs import log_kv

log = logging.getLogger(__name__)

# The jobs `bot.app.schedule` registers; other modules kick them by these names.
FEED_JOB = "feed-poll"
LEASE_JOB = "feed-lease"  # the feed lease's heartbeat (bot/feed_lease.py)
DUE_JOB = "due-checks"
OUTBOX_JOB = "outbox-drain"
REMINDER_JOB = "reminders"
ESCALATION_JOB = "escalations"  # tell the next approver tier when nobody acted
DIGEST_JOB = "digest"
POLICY_JOB = "policy-requests"  # expire agents' over-limit requests nobody answered
RETENTION_JOB = "retention"  # forget records that stopped mattering; prune hourly

Tick = Callable[[], Awaitable[object]]
SHUTDOWN_GRACE_SECONDS = 5.0
# Jobs share one clock; a sync may be an HTTP call (the sandbox's clock), so jobs that
# tick within this many seconds of each other share one sync.
CLOCK_SYNC_EVERY_SECONDS = 0.1


class ClockSync:
    """Syncs the injected clock before a tick, at most once per CLOCK_SYNC_EVERY_SECONDS."""

    def __init__(self, clock: Clock, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._last = -math.inf

    async def __call__(self) -> None:
        now = self._monotonic()
        if now - self._last < CLOCK_SYNC_EVERY_SECONDS:
            return
        self._last = now
        await self._clock.sync()


class KickableJob:
    """One periodic job that can also be asked to run right away."""

    def __init__(self, name: str, tick: Tick, sync: Callable[[], Awaitable[None]]) -> None:
        self.name = name
        self._tick = tick
        self._sync = sync
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._accepting = False
        self.runs = 0  # completed runs, failed ones included

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def kick(self) -> None:
        """Run now; if a run is in progress, run once more when it ends."""
        if not self._accepting:
            return
        if self.running:
            self._again = True
        else:
            self._start()

    async def scheduled(self) -> None:
        """The periodic tick (APScheduler's job function): start a run unless one is going."""
        if self._accepting and not self.running:
            self._start()

    def accept(self) -> None:
        self._accepting = True

    async def stop(self, grace: float) -> None:
        """Take no more runs; let the current one finish within `grace` seconds, else cancel it."""
        self._accepting = False
        self._again = False
        task = self._task
        if task is None or task.done():
            return
        _, still_running = await asyncio.wait({task}, timeout=grace)
        if still_running:
            log.warning("scheduled job cancelled at shutdown %s", log_kv(job=self.name))
            task.cancel()
            # asyncio.wait, not `await task`: the task's CancelledError is not ours to raise.
            await asyncio.wait({task})

    def _start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"job:{self.name}")

    async def _run(self) -> None:
        while True:
            self._again = False
            try:
                await self._sync()
                await self._tick()
            except Exception:  # a failing tick must not kill the schedule
                log.exception("scheduled job failed %s", log_kv(job=self.name))
            self.runs += 1
            if not (self._again and self._accepting):
                return


async def _no_sync() -> None:
    return None


class Scheduler:
    def __init__(self, clock: Clock) -> None:
        self._sync = ClockSync(clock)
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._jobs: dict[str, KickableJob] = {}

    def every(
        self, name: str, interval: timedelta, tick: Tick, *, synced: bool = True
    ) -> KickableJob:
        """Run `tick` every `interval` (first run at start-up) and whenever `kick(name)` asks.

        `synced=False`: a job that reads no time from the injected clock (the lease's
        heartbeat, every second) does not sync it first.
        """
        if interval <= timedelta(0):
            raise ValueError(f"job {name} needs a positive interval")
        job = KickableJob(name, tick, self._sync if synced else _no_sync)
        self._jobs[name] = job
        self._scheduler.add_job(
            job.scheduled,
            "interval",
            seconds=interval.total_seconds(),
            id=name,
            name=name,
            next_run_time=datetime.now(UTC),
            coalesce=True,
            misfire_grace_time=None,
        )
        return job

    def job(self, name: str) -> KickableJob | None:
        return self._jobs.get(name)

    def kick(self, name: str) -> None:
        job = self._jobs.get(name)
        if job is not None:
            job.kick()

    def start(self) -> None:
        """Start inside the running event loop (aiohttp's on_startup)."""
        for job in self._jobs.values():
            job.accept()
        self._scheduler.start()

    async def shutdown(self, grace: float = SHUTDOWN_GRACE_SECONDS) -> None:
        """Stop scheduling, then give runs in progress up to `grace` seconds to finish."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        await asyncio.gather(*(job.stop(grace) for job in self._jobs.values()))
