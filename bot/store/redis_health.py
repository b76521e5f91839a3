"""Whether the Redis behind REDIS_URL keeps what the bot stores: no eviction, and persistence.

The Redis store holds the only copy of the bot's state: tracked approvals, the
outbox, the audit log, and the once-keys and leases that keep every Slack post
and outcome from happening twice. A Redis that evicts keys when it reaches
`maxmemory` drops some of them without a word (the `volatile-*` policies evict
exactly the keys with a TTL: once-keys and leases); one that does not persist
loses all of them on a restart. Both are read with `CONFIG GET`: at start
(`serve` and `socket` refuse an evicting Redis unless REDIS_ALLOW_EVICTION=true;
missing persistence is a warning) and by the doctor (`python -m bot doctor`,
`/opentrain status`). Managed Redis often refuses CONFIG: then INFO is read
instead (its `maxmemory_policy` and `aof_enabled`; INFO shows no RDB save rules),
and what neither tells is a warning naming what must be true.

`assess` is the decision, pure over what the server answered; `read_config` asks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from bot.store.base import StoreUnavailable

NOEVICTION = "noeviction"
CHECK_TIMEOUT_SECONDS = 5.0
EVICTION_FIX = (
    "set `maxmemory-policy noeviction` (redis.conf) or run "
    "`CONFIG SET maxmemory-policy noeviction` (then `CONFIG REWRITE` to keep it)"
)
MANAGED_EVICTION_FIX = (
    "set maxmemory-policy to noeviction in the provider's parameter group or settings"
)
EVICTION_MUST = (
    "make sure the server's maxmemory-policy is noeviction (on managed Redis: the provider's "
    "parameter group or settings); an evicting Redis drops the bot's data without a word"
)
PERSISTENCE_FIX = (
    "set `appendonly yes` (redis.conf) or run `CONFIG SET appendonly yes` "
    "(then `CONFIG REWRITE` to keep it)"
)
PERSISTENCE_MUST = (
    "make sure Redis persists its data: `appendonly yes`, or RDB `save` rules (on managed "
    "Redis: persistence or backups in the provider's settings)"
)

Verdict = Literal["ok", "bad", "unknown"]


@dataclass(frozen=True)
class RedisConfig:
    """What the server said about itself; None where it would not say."""

    maxmemory_policy: str | None = None
    appendonly: str | None = None  # "yes" / "no"
    save: str | None = None  # the RDB save rules, "" when there are none
    config_refused: str | None = None  # the server's answer to CONFIG GET, when it refused


@dataclass(frozen=True)
class Finding:
    verdict: Verdict
    detail: str
    fix: str | None = None  # what to set; for "unknown", what must be true


@dataclass(frozen=True)
class RedisHealth:
    eviction: Finding
    persistence: Finding

    def refusal(self, *, allow_eviction: bool) -> str | None:
        """Why the bot must not start on this Redis, in one line; None when it may."""
        if self.eviction.verdict != "bad" or allow_eviction:
            return None
        return (
            f"{self.eviction.detail}; {self.eviction.fix}, or set REDIS_ALLOW_EVICTION=true "
            "to start anyway (not recommended)"
        )


def assess(config: RedisConfig) -> RedisHealth:
    """The verdict on eviction and persistence from what the server answered."""
    return RedisHealth(_eviction(config), _persistence(config))


def _eviction(config: RedisConfig) -> Finding:
    policy = config.maxmemory_policy
    if policy is None:
        return Finding("unknown", f"could not be checked ({_why_unknown(config)})", EVICTION_MUST)
    if policy == NOEVICTION:
        return Finding("ok", f"maxmemory-policy noeviction{_source(config)}")
    return Finding(
        "bad",
        f"maxmemory-policy is {policy}{_source(config)}: at maxmemory Redis deletes keys, and "
        "the bot loses approvals, queued Slack posts or the once-keys that keep them from "
        "repeating",
        EVICTION_FIX if config.config_refused is None else MANAGED_EVICTION_FIX,
    )


def _persistence(config: RedisConfig) -> Finding:
    if config.appendonly == "yes":
        return Finding("ok", f"append-only file on (appendonly yes){_source(config)}")
    if config.save:
        return Finding(
            "ok",
            f"RDB snapshots (save {config.save}): a crash loses the writes since the last "
            "snapshot; `appendonly yes` would keep them",
        )
    if config.appendonly == "no" and config.save == "":
        return Finding(
            "bad",
            "no persistence (appendonly no, no save rules): a Redis restart loses every "
            "tracked approval, queued Slack post and audit entry",
            PERSISTENCE_FIX,
        )
    return Finding("unknown", f"could not be checked ({_why_unknown(config)})", PERSISTENCE_MUST)


def _source(config: RedisConfig) -> str:
    return " (from INFO: CONFIG is refused)" if config.config_refused is not None else ""


def _why_unknown(config: RedisConfig) -> str:
    if config.config_refused is not None:
        return f"CONFIG GET is refused: {config.config_refused}"
    return "CONFIG GET did not say"


async def read_config(url: str) -> RedisConfig:
    """Ask the Redis at `url` (CONFIG GET, else INFO); StoreUnavailable when it cannot be asked."""
    redis = Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=CHECK_TIMEOUT_SECONDS,
        socket_connect_timeout=CHECK_TIMEOUT_SECONDS,
    )
    try:
        try:
            values: dict[str, str] = {}
            # One name per call: Redis before 7.0 takes a single pattern.
            for name in ("maxmemory-policy", "appendonly", "save"):
                answer = await redis.config_get(name)
                values.update((str(key), str(value)) for key, value in answer.items())
        except ResponseError as exc:  # unknown (renamed) command, or NOPERM from an ACL
            return await _from_info(redis, _one_line(str(exc)))
        return RedisConfig(
            maxmemory_policy=values.get("maxmemory-policy"),
            appendonly=values.get("appendonly"),
            save=values.get("save"),
        )
    except RedisError as exc:
        # redis-py's messages name host and port, never the password.
        raise StoreUnavailable(f"redis at {redis_address(redis)}: {exc}") from exc
    finally:
        await redis.aclose()


async def _from_info(redis: Redis, refused: str) -> RedisConfig:
    try:
        memory = await redis.info("memory")
        persistence = await redis.info("persistence")
    except ResponseError:
        return RedisConfig(config_refused=refused)
    policy = memory.get("maxmemory_policy")
    # `aof_enabled:0` does not mean no persistence: RDB rules do not show in INFO.
    aof = str(persistence.get("aof_enabled", ""))
    return RedisConfig(
        maxmemory_policy=str(policy) if policy is not None else None,
        appendonly="yes" if aof == "1" else None,
        config_refused=refused,
    )


def redis_address(redis: Redis) -> str:
    """host:port (or the socket path) — never the URL, which may carry a password."""
    kwargs = redis.connection_pool.connection_kwargs
    if "path" in kwargs:
        return str(kwargs["path"])
    return f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"


def _one_line(message: str) -> str:
    return " ".join(message.split())
