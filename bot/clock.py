"""Time is injected everywhere so expiry and reminders are testable without sleeping.

Production uses `SystemClock`. The sandbox and the tests use `FollowingClock`,
which follows the OpenTrain simulator's clock (`GET /_sim/clock` answers
`{"now": ISO, "offsetSeconds": N}`) so that advancing the simulator moves
expiry, reminders and quiet hours for the bot too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

import httpx


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    async def sync(self) -> None:
        """Refresh from the clock's source, if it has one (called before each scheduler tick)."""
        ...

    async def aclose(self) -> None:
        """Release what `sync` holds open."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sync(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class FixedClock:
    """A clock that only moves when told to; for unit tests of pure decisions."""

    def __init__(self, start: datetime) -> None:
        self._now = start

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    async def sync(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class FollowingClock:
    """System time plus the offset the OpenTrain simulator's clock has been advanced by."""

    def __init__(self, url: str, timeout: float = 2.0) -> None:
        self._url = url
        self._timeout = timeout
        self._offset = timedelta(0)
        self._http: httpx.AsyncClient | None = None

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    async def sync(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self._timeout)
        try:
            response = await self._http.get(self._url)
            response.raise_for_status()
            self._offset = timedelta(seconds=float(response.json()["offsetSeconds"]))
        except (httpx.HTTPError, KeyError, ValueError):
            # Keep the last known offset: a sandbox hiccup must not stop the bot.
            return

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None


def make_clock(sandbox_clock_url: str | None) -> Clock:
    return FollowingClock(sandbox_clock_url) if sandbox_clock_url else SystemClock()
