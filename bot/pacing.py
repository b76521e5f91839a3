"""Proactive pacing of Slack Web API calls, so a burst of outcomes does not provoke 429s.

Slack limits each method per workspace by tier (Tier 2 ≈ 20/min, Tier 3 ≈ 50/min,
Tier 4 ≈ 100/min) and `chat.postMessage` to about one message per second per
channel. Waiting for our turn costs the same time as a 429 would, without the
retries. Rates are kept a little under Slack's so clock drift never tips us over.
`scale` > 1 speeds every limit up (the simulator's time-scaled limits).

A bucket may also bank up to half a call beyond the one it is about to make,
so a caller woken late (a busy event loop) makes up the lost time instead of
losing its slot for good — only for limits where, even so, any window of
Slack's holds at least one call fewer than the limit.

When Slack answers 429 anyway (another app on the token, a limit we do not
model), `hold` stops every caller of that bucket until `Retry-After` has passed,
so parallel lanes do not keep hammering a limit that is already exhausted.

`SlackPacer` keeps these buckets in this process; with several replicas on one Redis,
bot/pacing_redis.py shares the same limits (`limit_of`) between them. Both are a `Pacer`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.errors import SlackApiError

PER_MINUTE_BY_TIER = {1: 1.0, 2: 20.0, 3: 50.0, 4: 100.0}
HEADROOM = 0.96
CATCH_UP = 0.5
POSTS_PER_SECOND_PER_CHANNEL = 1.0
POST_MESSAGE = "chat.postMessage"

METHOD_TIERS = {
    "chat.update": 3,
    "chat.unfurl": 3,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "conversations.open": 3,
    "conversations.history": 3,
    "conversations.replies": 3,
    "conversations.info": 3,
    "conversations.join": 3,
    "users.info": 4,
    "usergroups.users.list": 2,
    "views.open": 4,
    "views.update": 4,
    "views.publish": 4,
    "auth.test": 4,
}

Monotonic = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class TokenBucket:
    """`rate` tokens per second, holding at most `burst`; `acquire` waits for one.

    Callers are served in arrival order (one lock), so a waiting caller is never
    overtaken. `monotonic` and `sleep` are injectable for tests.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        *,
        tokens: float | None = None,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """Starts full, or with `tokens`."""
        if rate <= 0 or burst < 1:
            raise ValueError("a token bucket needs a positive rate and room for one token")
        self._rate = rate
        self._burst = burst
        self._tokens = burst if tokens is None else min(tokens, burst)
        self._monotonic = monotonic
        self._sleep = sleep
        self._updated = monotonic()
        self._held_until = 0.0
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._monotonic()
        self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
        self._updated = now

    async def acquire(self) -> None:
        async with self._lock:
            held = self._held_until - self._monotonic()
            if held > 0:
                await self._sleep(held)
                # Slack's window restarted: one call now, then the usual pace.
                self._tokens = 1.0
                self._updated = self._monotonic()
            else:
                self._refill()
            if self._tokens < 1:
                await self._sleep((1 - self._tokens) / self._rate)
                self._refill()
            self._tokens -= 1

    async def unheld(self) -> None:
        """Until no `hold` is in force (takes no token)."""
        while (held := self._held_until - self._monotonic()) > 0:
            await self._sleep(held)

    def hold(self, seconds: float) -> None:
        """Serve nobody for `seconds` (Slack said Retry-After)."""
        self._held_until = max(self._held_until, self._monotonic() + seconds)


@dataclass(frozen=True)
class Limit:
    """One of Slack's limits as a token bucket; `key` names it (a method, or a channel's posts)."""

    key: str
    per_second: float  # a little under Slack's rate (HEADROOM), times the scale
    burst: float  # the call about to be made and what may be banked beyond it (`catch_up`)


def limit_of(method: str, channel: str | None, scale: float = 1.0) -> Limit | None:
    """The bucket a call of `method` (in `channel`) takes its turn in; None: not paced."""
    if method == POST_MESSAGE:
        if channel is None:
            return None
        per_second = POSTS_PER_SECOND_PER_CHANNEL * HEADROOM * scale
        return Limit(f"channel:{channel}", per_second, 1 + catch_up(POSTS_PER_SECOND_PER_CHANNEL))
    tier = METHOD_TIERS.get(method)
    if tier is None:
        return None
    per_minute = PER_MINUTE_BY_TIER[tier]
    return Limit(f"method:{method}", per_minute / 60 * HEADROOM * scale, 1 + catch_up(per_minute))


class Pacer(Protocol):
    """What the Slack gateway asks of its pacing: in this process, or shared through Redis."""

    async def acquire(self, method: str, channel: str | None = None) -> None:
        """Until it is this call's turn (takes the turn)."""

    async def unheld(self, method: str, channel: str | None = None) -> None:
        """Until Slack's `Retry-After` for `method` (in `channel`) has passed; takes no turn."""

    async def hold(self, method: str, channel: str | None, seconds: float) -> None:
        """Slack answered 429 for `method` (in `channel`): pause its callers for `seconds`."""

    async def aclose(self) -> None:
        """Release what the pacing holds open (a Redis connection)."""


class SlackPacer:
    """This process's buckets: one per paced method, one per channel for posts."""

    def __init__(
        self,
        scale: float = 1.0,
        *,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._scale = scale
        self._monotonic = monotonic
        self._sleep = sleep
        self._buckets: dict[str, TokenBucket] = {}

    async def acquire(self, method: str, channel: str | None = None) -> None:
        bucket = self._bucket(method, channel)
        if bucket is not None:
            await bucket.acquire()

    async def unheld(self, method: str, channel: str | None = None) -> None:
        """Until Slack's `Retry-After` for `method` (in `channel`) has passed; takes no turn.

        Lets a caller decide whether to make the call after a long wait, not before it.
        """
        bucket = self._bucket(method, channel)
        if bucket is not None:
            await bucket.unheld()

    async def hold(self, method: str, channel: str | None, seconds: float) -> None:
        """Slack answered 429 for `method` (in `channel`): pause its callers for `seconds`."""
        bucket = self._bucket(method, channel)
        if bucket is not None:
            bucket.hold(seconds)

    async def aclose(self) -> None:
        """Nothing to release: the buckets live in this process."""

    def _bucket(self, method: str, channel: str | None) -> TokenBucket | None:
        limit = limit_of(method, channel, self._scale)
        if limit is None:
            return None
        bucket = self._buckets.get(limit.key)
        if bucket is None:
            # Starts with one call; may bank `catch_up` more.
            bucket = self._buckets[limit.key] = TokenBucket(
                limit.per_second,
                limit.burst,
                tokens=1,
                monotonic=self._monotonic,
                sleep=self._sleep,
            )
        return bucket


def catch_up(limit: float) -> float:
    """How much of a call a bucket for Slack's `limit` (calls per window) may bank.

    A bucket of capacity 1 + b refilling HEADROOM × limit per window admits at most
    1 + b + HEADROOM × limit calls into any window: at most limit − 1 calls while
    b < (1 − HEADROOM) × limit − 1. Tier 3 (50) and Tier 4 (100) leave room for
    CATCH_UP; Tier 2 (20) and a channel's one post per second leave none.
    """
    room = (1 - HEADROOM) * limit - 1
    return min(CATCH_UP, room / 2) if room > 0 else 0.0


def rate_limit_wait(exc: SlackApiError) -> int | None:
    """Seconds Slack asked us to wait, if `exc` is a rate limit (429 / `ratelimited`)."""
    response = exc.response
    if response.status_code != 429 and response.get("error") != "ratelimited":
        return None
    try:
        return max(1, int(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1
