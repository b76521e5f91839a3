"""The simulator's clock: system time plus an offset that only ever grows.

`GET /_sim/clock` reports the offset so the bot's `FollowingClock` (bot/clock.py)
can add the same offset to its own system time; advancing here therefore moves
approval expiry, webhook retries and the bot's reminders together.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    @property
    def offset_seconds(self) -> float:
        return self._offset.total_seconds()

    def advance(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("the simulator clock only moves forward")
        self._offset += timedelta(seconds=seconds)

    def reset(self) -> None:
        self._offset = timedelta(0)
