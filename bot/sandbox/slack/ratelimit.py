"""Slack's Web API rate limits: per-method tiers, and chat.postMessage's per-channel pace.

Slack limits each method per app per workspace by tier (Tier 2 "20+ per
minute", Tier 3 "50+", Tier 4 "100+"), and `chat.postMessage` to about one
message per second per channel with short bursts allowed. The simulator
enforces the documented floor of each tier over a sliding minute, so a bot
that behaves here has headroom in production.

`scale` shortens every window (60 s becomes 60/scale s) so tests can exhaust
a limit and wait it out in milliseconds.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum


class Tier(Enum):
    TIER_2 = "tier_2"
    TIER_3 = "tier_3"
    TIER_4 = "tier_4"
    POST_MESSAGE = "post_message"  # Slack's "special" tier: paced per channel instead

    @property
    def per_minute(self) -> int:
        return _PER_MINUTE[self]


_PER_MINUTE = {Tier.TIER_2: 20, Tier.TIER_3: 50, Tier.TIER_4: 100}


POST_MESSAGE_PER_SECOND = 1.0
POST_MESSAGE_BURST = 3  # how many back-to-back posts to one channel pass before pacing


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, *, scale: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        if scale <= 0:
            raise ValueError("rate limit scale must be positive")
        self._window = 60.0 / scale
        self._post_rate = POST_MESSAGE_PER_SECOND * scale
        self._clock = clock
        self._calls: dict[str, deque[float]] = {}
        self._buckets: dict[str, _Bucket] = {}

    def admit(self, method: str, tier: Tier, channel: str | None = None) -> int | None:
        """Count one call; return the `Retry-After` seconds if Slack would refuse it."""
        now = self._clock()
        wait = (
            self._admit_post(channel or "", now)
            if tier is Tier.POST_MESSAGE
            else self._admit_tier(method, tier, now)
        )
        # Whole seconds, rounded up: a client that honours the header always gets in.
        return None if wait is None else max(1, math.ceil(wait))

    def _admit_tier(self, method: str, tier: Tier, now: float) -> float | None:
        calls = self._calls.setdefault(method, deque())
        while calls and calls[0] <= now - self._window:
            calls.popleft()
        if len(calls) >= tier.per_minute:
            return calls[0] + self._window - now
        calls.append(now)
        return None

    def _admit_post(self, channel: str, now: float) -> float | None:
        bucket = self._buckets.setdefault(channel, _Bucket(float(POST_MESSAGE_BURST), now))
        bucket.tokens = min(
            float(POST_MESSAGE_BURST), bucket.tokens + (now - bucket.updated) * self._post_rate
        )
        bucket.updated = now
        if bucket.tokens < 1.0:
            return (1.0 - bucket.tokens) / self._post_rate
        bucket.tokens -= 1.0
        return None
