"""Waiting for an approval's outcome without asking OpenTrain (`GET /agent/v1/approvals/{id}
?waitSeconds=`, the MCP server's `wait_for_outcome`).

A waiter waits on the bot's own outcome events. In this process the tracker calls `notify`
when it won an approval's transition (bot/tracker.py); an outcome another replica applied is
found by one watcher per process, which re-reads from the store the distinct approvals being
waited on, every WATCH_INTERVAL_SECONDS while anyone waits, and stops when nobody does. The
watcher also does the reads a notify asks for, so any number of waiters on one approval cost
one store read per look, and none costs an OpenTrain call.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.logs import log_kv
from bot.store.base import ApprovalStore, StoreUnavailable
from bot.tracked_approvals import TrackedApproval

log = logging.getLogger(__name__)

# How late a waiter learns an outcome applied by another replica, at worst (plus one read).
WATCH_INTERVAL_SECONDS = 0.5
READ_CONCURRENCY = 16  # store reads of one look in flight at once


@dataclass
class _Watch:
    """Everyone waiting on one approval: woken together, sharing the one read that ended it."""

    waiters: int = 0
    ended: asyncio.Event = field(default_factory=asyncio.Event)
    outcome: TrackedApproval | None = None


class OutcomeWaits:
    """This process's waiters, keyed by approval id (`services.waits`)."""

    def __init__(self, store: ApprovalStore, *, interval: float = WATCH_INTERVAL_SECONDS) -> None:
        self._store = store
        self._interval = interval
        self._watches: dict[str, _Watch] = {}
        self._notified: set[str] = set()  # ids to look at now, not at the next sweep
        self._kick = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False
        self._store_failing = False
        self.looks = 0  # store reads the watcher made (tests and benchmarks count them)

    @property
    def waiting(self) -> int:
        """Waiters right now, over every approval."""
        return sum(watch.waiters for watch in self._watches.values())

    @property
    def watching(self) -> bool:
        """Whether the watcher runs (only while someone waits)."""
        return self._watcher is not None and not self._watcher.done()

    # A parameter, not asyncio.timeout around the call: when it passes, the waiter still answers.
    async def wait(self, approval_id: str, timeout: float) -> TrackedApproval | None:  # noqa: ASYNC109
        """The stored approval as soon as it ended, else as stored when `timeout` seconds passed;
        None when it is not tracked (answered at once). StoreUnavailable from the store."""
        if timeout <= 0 or self._closed:
            return await self._store.get_approval(approval_id)
        # Registered before the first read: an outcome applied meanwhile wakes this waiter.
        watch = self._watches.setdefault(approval_id, _Watch())
        watch.waiters += 1
        try:
            tracked = await self._store.get_approval(approval_id)
            if tracked is None or tracked.status.is_terminal:
                return tracked
            self._start_watcher()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await watch.ended.wait()
            if watch.outcome is not None:
                return watch.outcome
            return await self._store.get_approval(approval_id)
        finally:
            watch.waiters -= 1
            if watch.waiters == 0 and self._watches.get(approval_id) is watch:
                del self._watches[approval_id]
                if not self._watches:
                    self._kick.set()  # the watcher stops now, not at its next sweep

    def notify(self, approval_id: str) -> None:
        """This process applied `approval_id`'s outcome: wake its waiters now (one read)."""
        if approval_id in self._watches:
            self._notified.add(approval_id)
            self._kick.set()

    async def close(self) -> None:
        """Answer every waiter now with what is stored, and stop the watcher (shutdown must not
        wait out anyone's timeout); later waits answer at once."""
        self._closed = True
        for watch in self._watches.values():
            watch.ended.set()
        watcher, self._watcher = self._watcher, None
        if watcher is not None and not watcher.done():
            watcher.cancel()
            await asyncio.wait({watcher})

    # --- the watcher ------------------------------------------------------------------------
    def _start_watcher(self) -> None:
        if not self.watching and not self._closed:
            self._watcher = asyncio.get_running_loop().create_task(
                self._watch(), name="outcome-waits"
            )

    async def _watch(self) -> None:
        loop = asyncio.get_running_loop()
        next_sweep = loop.time() + self._interval
        while self._watches and not self._closed:
            if not self._notified:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout_at(next_sweep):
                        await self._kick.wait()
            self._kick.clear()
            if loop.time() >= next_sweep:
                ids = list(self._watches)  # outcomes other replicas applied
                next_sweep = loop.time() + self._interval
            else:
                ids = [i for i in self._notified if i in self._watches]
            self._notified.clear()
            try:
                await self._look(ids)
            except Exception:  # the watcher must outlive any one look; waiters still time out
                log.exception("outcome watch failed")

    async def _look(self, ids: Iterable[str]) -> None:
        """Read `ids` from the store; wake the waiters of every one that ended."""
        pending = list(ids)
        for start in range(0, len(pending), READ_CONCURRENCY):
            batch = pending[start : start + READ_CONCURRENCY]
            self.looks += len(batch)
            try:
                found = await asyncio.gather(*(self._store.get_approval(i) for i in batch))
            except StoreUnavailable as exc:
                if not self._store_failing:  # once per outage, not every interval
                    log.warning("outcome watch: store unavailable %s", log_kv(error=exc))
                self._store_failing = True
                return
            self._store_failing = False
            for approval_id, tracked in zip(batch, found, strict=True):
                watch = self._watches.get(approval_id)
                if watch is not None and tracked is not None and tracked.status.is_terminal:
                    watch.outcome = tracked
                    watch.ended.set()
