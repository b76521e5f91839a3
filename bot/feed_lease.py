"""The feed lease: which one process reads OpenTrain's `/updates` feed (bot/tracker.py).

The lease lives in the store with a short TTL and is renewed on a heartbeat of
its own (a scheduler job, `beat`), independent of the poll interval. Standbys
try to take it on the same heartbeat and, on winning, kick the feed poll at
once, so a leader that died (`kill -9`) is replaced within TTL + one heartbeat
(≤ 4 s), whatever OT_POLL_INTERVAL_SECONDS is. A graceful shutdown releases it
at once (`resign`).

Never two leaders: the leader counts its lease from the moment it *sent* its
last successful renewal, and stops acting as leader MARGIN before the TTL runs
out from there (`leading`). The store's TTL starts later, when the renewal
arrives, so a leader whose renewals stop (store errors, a lease lost, an event
loop stalled) has stopped before any standby can take the lease over. The
tracker checks `leading` before each event it applies and renews once more in
the store (`hold`) before it saves the feed's cursor.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import timedelta

from bot.logs import log_kv
from bot.store import StoreUnavailable
from bot.store.base import Coordination

log = logging.getLogger(__name__)

FEED_LEASE = "feed-leader"
HEARTBEAT = timedelta(seconds=1)
LEASE_TTL = timedelta(seconds=3)  # a standby takes over within this + one heartbeat
MARGIN = timedelta(seconds=0.5)  # the leader stops this long before its lease can lapse


class FeedLease:
    def __init__(
        self,
        store: Coordination,
        owner: str,
        *,
        on_gained: Callable[[], None] = lambda: None,
        ttl: timedelta | None = None,
        heartbeat: timedelta | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        # Read when built, not when imported: the failover benchmark's baseline sets them.
        self.ttl = ttl or LEASE_TTL
        self.heartbeat = heartbeat or HEARTBEAT
        if self.ttl < self.heartbeat + MARGIN * 2:
            raise ValueError("the feed lease must outlast a heartbeat by twice the margin")
        self._store = store
        self._owner = owner
        self._on_gained = on_gained  # kicks the feed poll
        self._monotonic = monotonic
        self._held = False  # what the store said last
        self._valid_until = -math.inf  # monotonic seconds
        self._store_failing = False
        self._renewing = asyncio.Lock()  # results are applied in the order renewals were sent

    @property
    def leading(self) -> bool:
        """Whether this process may act as the feed's leader now (no store call)."""
        return self._held and self._monotonic() < self._valid_until

    async def hold(self) -> bool:
        """Take the lease if it is free, or renew it; whether this process leads now.

        Raises StoreUnavailable (and stops leading) when the store cannot answer.
        """
        async with self._renewing:
            sent = self._monotonic()
            try:
                held = await self._store.acquire_lease(FEED_LEASE, self._owner, self.ttl)
            except StoreUnavailable:
                # Stop leading at once; the store may still name this process, so `resign`
                # still tries to give the lease back at shutdown.
                self._valid_until = -math.inf
                raise
            if held:
                self._valid_until = sent + (self.ttl - MARGIN).total_seconds()
            self._record(held)
            return self.leading

    async def beat(self) -> None:
        """The heartbeat: renew the lease, or take it over; a process that starts (or, after a
        store outage, resumes) leading polls the feed at once."""
        was_leading = self.leading
        try:
            leading = await self.hold()
        except StoreUnavailable as exc:
            # An outage fails every heartbeat: say so when it starts, not every second.
            level = logging.DEBUG if self._store_failing else logging.WARNING
            log.log(level, "feed lease not renewed %s", log_kv(error=str(exc)))
            self._store_failing = True
            return
        self._store_failing = False
        if leading and not was_leading:
            self._on_gained()

    async def resign(self) -> None:
        """Give the lease up (shutdown), so a standby takes over without waiting out the TTL."""
        if self._held:
            self._record(held=False)
            await self._store.release_lease(FEED_LEASE, self._owner)

    def _record(self, held: bool) -> None:
        if not held:
            self._valid_until = -math.inf
        if held != self._held:
            log.info(
                "feed leadership %s",
                log_kv(owner=self._owner, leading=held, ttl_s=self.ttl.total_seconds()),
            )
            self._held = held
