"""Slack pacing shared by every replica on one Redis, so N processes together stay under
Slack's limits instead of each using all of them.

Each limit bot/pacing.py models (`limit_of`: a method's tier, a channel's posts) is one
Redis hash, and each turn one Lua script: GCRA, the token bucket kept as the time its
next call is due (`tat`), with `tolerance` = what the bucket may bank. Time is the Redis
server's `TIME`, never a replica's clock. A take that finds no turn takes nothing and
answers how long until there is one; the caller sleeps that long and asks again. Within
a process callers queue per bucket in arrival order and only the first asks Redis, so
a turn costs about one ask per replica waiting for it.

A 429's `Retry-After` is written into the same hash (`held`): every replica's next take
waits for it, and the first call after it starts Slack's window afresh — one call, then
the usual pace — as in the in-process buckets. Keys expire once the bucket would be full
again and no hold is left.

When Redis does not answer, a take falls back to this process's own buckets at its share
of the rate — 1/N, N the replicas that took a turn in the last minute as Redis last told
(itself included) — logs once, and asks Redis again after RETRY_SHARED_AFTER. A process
that never reached Redis knows no N and paces alone at the full rate (Slack's 429s and
their `Retry-After` then hold it back). Posting never stops because pacing cannot be read.

Layout under the prefix (default `cosign:pacing:`):
  method:<method>    hash {tat, held} in µs of Redis time (a tiered method, workspace-wide)
  channel:<id>       the same for chat.postMessage in one channel
  replicas           sorted set: process owner -> its last take (µs)
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bot.config import Settings
from bot.logs import log_kv
from bot.pacing import Limit, Monotonic, Pacer, SlackPacer, Sleep, limit_of
from bot.store.redis import DEFAULT_PREFIX

log = logging.getLogger(__name__)

PREFIX = f"{DEFAULT_PREFIX}pacing:"  # beside the Redis store's keys (bot/store/redis.py)
MICROS = 1_000_000
# A take must not wait long on a Redis that does not answer: it falls back instead.
TIMEOUT_SECONDS = 1.0
# While Redis does not answer, takes stay local this long before Redis is asked again.
RETRY_SHARED_AFTER = 5.0
# Replicas counted for the local share: those that took a turn within Slack's window.
REPLICA_WINDOW_SECONDS = 60.0

_NOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
"""

# KEYS: bucket, replicas. ARGV: interval µs, tolerance µs, owner, replica window µs.
# Answers {µs until a turn (0: this call's turn was taken), replicas lately}.
# (Numbers passed to redis.call are written with 17 digits: µs stay exact below 2^53.)
TAKE = (
    _NOW
    + """
local window = tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], now, ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
redis.call('PEXPIRE', KEYS[2], math.ceil(window / 1000))
local replicas = redis.call('ZCARD', KEYS[2])
local tat = math.max(now, tonumber(redis.call('HGET', KEYS[1], 'tat')) or 0)
local early = tat - tonumber(ARGV[2]) - now
if early > 0 then return {math.ceil(early), replicas} end
tat = math.ceil(tat + tonumber(ARGV[1]))
redis.call('HSET', KEYS[1], 'tat', tat)
local ends = math.max(tat, tonumber(redis.call('HGET', KEYS[1], 'held')) or 0)
redis.call('PEXPIRE', KEYS[1], math.ceil((ends - now) / 1000) + 1000)
return {0, replicas}
"""
)

# KEYS: bucket. ARGV: hold µs, tolerance µs. Answers µs until the hold ends.
HOLD = (
    _NOW
    + """
local held = math.max(now + tonumber(ARGV[1]), tonumber(redis.call('HGET', KEYS[1], 'held')) or 0)
-- Slack's window starts afresh when the hold ends: one call then, then the usual pace.
local tat = math.ceil(math.max(held + tonumber(ARGV[2]),
                               tonumber(redis.call('HGET', KEYS[1], 'tat')) or 0))
redis.call('HSET', KEYS[1], 'tat', tat, 'held', held)
redis.call('PEXPIRE', KEYS[1], math.ceil((tat - now) / 1000) + 1000)
return held - now
"""
)

# KEYS: bucket. Answers µs until its hold ends (0: none).
HELD = (
    _NOW
    + """
local held = tonumber(redis.call('HGET', KEYS[1], 'held')) or 0
if held > now then return math.ceil(held - now) end
return 0
"""
)


def gcra(limit: Limit) -> tuple[float, float]:
    """`limit` as GCRA's (interval, tolerance) in µs: a turn every interval, banked up to
    `tolerance` ahead — the token bucket of `burst` tokens refilled at `per_second`."""
    interval = MICROS / limit.per_second
    return interval, (limit.burst - 1) * interval


def local_share(scale: float, replicas: int) -> float:
    """The scale of this process's own buckets while Redis does not answer: 1/N of the rate
    when N replicas took turns lately, the whole rate when N is not known (0)."""
    return scale / max(1, replicas)


class SharedPacer:
    """A `Pacer` whose buckets are shared through Redis by every process using `redis`."""

    def __init__(
        self,
        redis: Redis,
        *,
        owner: str,
        scale: float = 1.0,
        prefix: str = PREFIX,
        monotonic: Monotonic = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        """`owner` names this process among the replicas (bot/app.py `process_owner`)."""
        self._redis = redis
        self._owner = owner
        self._scale = scale
        self._prefix = prefix
        self._monotonic = monotonic
        self._sleep = sleep
        self._take = redis.register_script(TAKE)
        self._hold = redis.register_script(HOLD)
        self._held = redis.register_script(HELD)
        self._turns: dict[str, asyncio.Lock] = {}
        self._replicas = 0  # processes that took turns lately, as Redis last told; 0: unknown
        self._alone: SlackPacer | None = None  # this process's share, while Redis is away
        self._ask_again_at = 0.0

    @classmethod
    def connect(cls, url: str, *, owner: str, scale: float = 1.0) -> SharedPacer:
        """A pacer on its own connections to the Redis at `url`, with short timeouts: a take
        waiting on an unresponsive Redis should fall back, not wait like a store call."""
        redis = Redis.from_url(
            url,
            socket_timeout=TIMEOUT_SECONDS,
            socket_connect_timeout=TIMEOUT_SECONDS,
            # A Redis restart leaves pooled connections dead: one immediate retry on a fresh one.
            retry=Retry(NoBackoff(), 1),
        )
        return cls(redis, owner=owner, scale=scale)

    async def acquire(self, method: str, channel: str | None = None) -> None:
        limit = limit_of(method, channel, self._scale)
        if limit is None:
            return
        interval, tolerance = gcra(limit)
        async with self._turn(limit.key):
            while True:
                answer = await self._ask(
                    self._take,
                    [limit.key, "replicas"],
                    interval,
                    tolerance,
                    self._owner,
                    round(REPLICA_WINDOW_SECONDS * MICROS),
                )
                if answer is None:
                    await self._local().acquire(method, channel)
                    return
                wait, self._replicas = int(answer[0]), int(answer[1])
                if wait <= 0:
                    return
                await self._sleep(wait / MICROS)

    async def unheld(self, method: str, channel: str | None = None) -> None:
        limit = limit_of(method, channel, self._scale)
        if limit is None:
            return
        while True:
            answer = await self._ask(self._held, [limit.key])
            if answer is None:
                await self._local().unheld(method, channel)
                return
            if int(answer) <= 0:
                return
            await self._sleep(int(answer) / MICROS)

    async def hold(self, method: str, channel: str | None, seconds: float) -> None:
        limit = limit_of(method, channel, self._scale)
        if limit is None:
            return
        _, tolerance = gcra(limit)
        if await self._ask(self._hold, [limit.key], round(seconds * MICROS), tolerance) is None:
            await self._local().hold(method, channel, seconds)

    async def aclose(self) -> None:
        await self._redis.aclose()

    @property
    def shared(self) -> bool:
        """Whether the last ask reached Redis (else takes are this process's alone)."""
        return self._alone is None

    def _turn(self, key: str) -> asyncio.Lock:
        turn = self._turns.get(key)
        if turn is None:
            turn = self._turns[key] = asyncio.Lock()
        return turn

    async def _ask(self, script: AsyncScript, keys: list[str], *args: str | int | float) -> Any:
        """The script's answer, or None while Redis does not answer."""
        if self._alone is not None:
            if self._monotonic() < self._ask_again_at:
                return None
            # One caller finds out whether Redis is back; the others stay local meanwhile.
            self._ask_again_at = self._monotonic() + RETRY_SHARED_AFTER
        try:
            answer = await script(keys=[self._prefix + key for key in keys], args=args)
        except (RedisError, OSError) as exc:
            self._ask_again_at = self._monotonic() + RETRY_SHARED_AFTER
            if self._alone is None:
                log.warning(
                    "slack pacing not shared: redis does not answer, pacing this process alone %s",
                    log_kv(share=f"1/{self._replicas or 1}", error=type(exc).__name__),
                )
                self._local()
            return None
        if self._alone is not None:
            self._alone = None
            log.info("slack pacing shared through redis again")
        return answer

    def _local(self) -> SlackPacer:
        """This process's own buckets at its share, made when Redis stopped answering."""
        if self._alone is None:
            self._alone = SlackPacer(
                local_share(self._scale, self._replicas),
                monotonic=self._monotonic,
                sleep=self._sleep,
            )
        return self._alone


def open_pacer(settings: Settings, *, owner: str) -> Pacer:
    """Slack pacing for this process: shared through Redis when REDIS_URL is set (unless
    SLACK_SHARED_PACING is off), else this process's own buckets."""
    if settings.redis_url is not None and settings.slack_shared_pacing:
        url = settings.redis_url.get_secret_value()
        return SharedPacer.connect(url, owner=owner, scale=settings.slack_rate_limit_scale)
    return SlackPacer(settings.slack_rate_limit_scale)
