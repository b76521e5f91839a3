"""A per-token rate limit on the Public API, when `rateLimitPerMinute` is set.

OpenTrain's general limit is unconfirmed (opentrain-api.md §5.1); what is documented
is the shape of the refusal — 429 `RATE_LIMITED`, `details.retryAfterSeconds` —
and we also send `Retry-After`. Windows are fixed and run on real time, not the
simulator clock: advancing the clock to expire approvals must not reset them.
Refused requests do not count against the window.
"""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from bot.sandbox.opentrain.config import SimConfig
from bot.sandbox.opentrain.errors import ApiError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class _Window:
    started: float
    used: int


class RateLimiter:
    def __init__(self, config: Callable[[], SimConfig]) -> None:
        self._config = config
        self._windows: dict[str, _Window] = {}

    def check(self, bearer: str) -> None:
        """Count one request for `bearer`, or raise the 429 when its window is used up."""
        config = self._config()
        limit = config.rate_limit_per_minute
        if limit is None or not bearer:
            return
        now = time.monotonic()
        window = self._windows.get(bearer)
        if window is None or now - window.started >= config.rate_limit_window_seconds:
            window = self._windows[bearer] = _Window(now, 0)
        if window.used < limit:
            window.used += 1
            return
        wait = max(1, math.ceil(window.started + config.rate_limit_window_seconds - now))
        raise ApiError(
            429,
            "Too many requests for this token; slow down",
            {"retryAfterSeconds": wait},
            headers={"Retry-After": str(wait)},
        )
