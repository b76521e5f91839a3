"""The shared store: one Redis, any number of bot replicas.

Every operation that must be atomic is one Lua script, so Redis runs it without
interleaving another client's commands. Scripts get the key prefix and build
per-item keys themselves, which makes this a store for one Redis server (or a
primary with replicas), not for Redis Cluster.

Layout under the prefix (default `cosign:`):
  approval:<id>          hash {json, status, version}; `version` is authoritative
  approvals              sorted set of every id, score = adopted_at (µs since epoch)
  status:<status>        the same, per status (listing and counting by status;
                         counts are bot/store/redis_counts.py)
  due                    sorted set of pending ids, score = next check (µs); authoritative
                         over the JSON's next_check_at
  proposal:<id>          set of approval ids adopted for that proposal
  outbox                 hash effect id -> Effect JSON
  outbox:due             sorted set of undone effect ids, score = due time (µs)
  cursor                 the /updates cursor
  lease:<name>           the owner, expiring by PX (real time)
  key:<key>              a once-key, expiring by PX (real time)
  routes                 hash route key -> channel id
  config                 hash "<kind>:<key>" -> settings record JSON (bot/store/kinds.py)
  audit, audit:approval:<id>
                         the audit log: a stream, and a list per approval
                         (bot/store/redis_audit.py)
  pi:…, watch:…          the pending index (bot/store/redis_index_scripts.py)

Scores are integer microseconds: below 2**53, so doubles hold them exactly.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from bot.outbox import Effect
from bot.store.base import StoreUnavailable, approval_record
from bot.store.kinds import RecordsOverText
from bot.store.records import ParsedApprovals
from bot.store.redis_audit import RedisAudit
from bot.store.redis_counts import RedisCounts
from bot.store.redis_health import redis_address
from bot.store.redis_index import RedisIndex
from bot.store.redis_prune import RedisPrune
from bot.store.redis_scripts import (
    Arg,
    Scripts,
    effect_args,
    from_score,
    index_args,
    millis,
    score,
    text,
)
from bot.tracked_approvals import TrackedApproval, TrackedStatus

P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_PREFIX = "cosign:"
SOCKET_TIMEOUT_SECONDS = 5.0
LIST_PAGE = 500


def _guarded(
    method: Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[RedisStore, P], Coroutine[Any, Any, T]]:
    """Turn every Redis error into StoreUnavailable: callers never see a redis exception."""

    @functools.wraps(method)
    async def run(store: RedisStore, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await method(store, *args, **kwargs)
        except RedisError as exc:
            # redis-py's messages name host, port and the server's reply, never the password.
            raise StoreUnavailable(f"redis at {store.address}: {exc}") from exc

    return run


class RedisStore(RecordsOverText, RedisCounts, RedisAudit, RedisPrune, RedisIndex):
    """The `Store` on one Redis server; see the module docstring for the key layout."""

    def __init__(self, redis: Redis, *, prefix: str = DEFAULT_PREFIX) -> None:
        """`redis` must decode responses to str; `RedisStore.connect` builds such a client."""
        self._redis = redis
        self._prefix = prefix
        self._parsed = ParsedApprovals()
        self._scripts = Scripts.register(redis)

    @classmethod
    async def connect(cls, url: str, *, prefix: str = DEFAULT_PREFIX) -> RedisStore:
        """A store on the Redis at `url`, checked with a PING so a bad URL fails at startup."""
        redis = Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            # One immediate retry on a fresh connection survives a Redis restart
            # (pooled connections are dead then); longer outages are the caller's.
            retry=Retry(NoBackoff(), 1),
        )
        store = cls(redis, prefix=prefix)
        try:
            await store.ping()
            await store.ensure_index()
        except StoreUnavailable:
            await redis.aclose()
            raise
        return store

    @property
    def address(self) -> str:
        """host:port (or the socket path) — never the URL, which may carry a password."""
        return redis_address(self._redis)

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _approvals(self, flat: list[str]) -> list[TrackedApproval]:
        """Records from a script's flat (id, json, version, due score or '') quadruples."""
        approvals: list[TrackedApproval] = []
        for i in range(0, len(flat), 4):
            approval_id, record, version, due = flat[i : i + 4]
            next_check_at = from_score(due) if due != "" else None
            approvals.append(self._parsed.parse(approval_id, record, int(version), next_check_at))
        return approvals

    # --- tracked approvals ------------------------------------------------------------
    @_guarded
    async def add_approval(self, approval: TrackedApproval, effects: Sequence[Effect] = ()) -> bool:
        args: list[Arg] = [self._prefix, approval_record(approval), approval.version]
        added = await self._scripts.add(args=[*args, *index_args(approval), *effect_args(effects)])
        return bool(added)

    @_guarded
    async def get_approval(self, approval_id: str) -> TrackedApproval | None:
        found = self._approvals(await self._scripts.get_approvals(args=[self._prefix, approval_id]))
        return found[0] if found else None

    @_guarded
    async def update_approval(self, approval: TrackedApproval) -> TrackedApproval | None:
        stored = approval.model_copy(update={"version": approval.version + 1})
        args: list[Arg] = [self._prefix, approval_record(stored), approval.version]
        found = await self._scripts.update(args=[*args, *index_args(approval)])
        # The script answers nil when the version or the status moved on.
        return self._approvals(found)[0] if found else None

    @_guarded
    async def transition(
        self,
        approval_id: str,
        expected: TrackedStatus,
        updated: TrackedApproval,
        effects: Sequence[Effect] = (),
    ) -> bool:
        if updated.approval_id != approval_id:
            raise ValueError(f"transition of {approval_id} got a record of {updated.approval_id}")
        args: list[Arg] = [self._prefix, approval_record(updated), expected.value]
        args += [updated.version, *index_args(updated)]
        won = await self._scripts.transition(args=[*args, *effect_args(effects)])
        return bool(won)

    @_guarded
    async def list_approvals(
        self,
        *,
        status: TrackedStatus | None = None,
        limit: int = 1000,
        since: datetime | None = None,
    ) -> list[TrackedApproval]:
        if limit <= 0:
            return []
        index = "approvals" if status is None else f"status:{status.value}"
        earliest = str(score(since)) if since is not None else "-inf"
        listing: str = await self._scripts.stamp_listing(
            args=[self._prefix, index, limit, earliest]
        )
        # Only records not parsed before at their version are read, in pages, so a long
        # listing never holds every record's JSON at once.
        listed: dict[str, TrackedApproval | None] = {}
        for line in listing.splitlines():
            approval_id, _, version, due = line.split(" ")
            due_at = from_score(due) if due else None
            listed[approval_id] = self._parsed.known(approval_id, int(version), due_at)
        unknown = [approval_id for approval_id, found in listed.items() if found is None]
        for first in range(0, len(unknown), LIST_PAGE):
            page = unknown[first : first + LIST_PAGE]
            for found in self._approvals(
                await self._scripts.get_approvals(args=[self._prefix, *page])
            ):
                listed[found.approval_id] = found
        # A record read after the listing may have changed status meanwhile: left out.
        return [
            found
            for found in listed.values()
            if found is not None and (status is None or found.status is status)
        ]

    @_guarded
    async def approvals_for_proposal(self, proposal_id: str) -> list[TrackedApproval]:
        ids = sorted(await self._redis.smembers(self._key("proposal", proposal_id)))
        found = (
            self._approvals(await self._scripts.get_approvals(args=[self._prefix, *ids]))
            if ids
            else []
        )
        # The set only grows; the record says whether the approval still names this proposal.
        mine = [a for a in found if a.proposal_id == proposal_id]
        return sorted(mine, key=lambda a: (a.adopted_at, a.approval_id), reverse=True)

    # --- due index --------------------------------------------------------------------
    @_guarded
    async def claim_due(
        self, now: datetime, owner: str, *, limit: int, lease: timedelta
    ) -> list[TrackedApproval]:
        if limit <= 0:
            return []
        args: list[Arg] = [self._prefix, score(now), score(now + lease), limit]
        return self._approvals(await self._scripts.claim_due(args=args))

    @_guarded
    async def reschedule(self, approval_id: str, at: datetime) -> None:
        # XX: only items already in the due index (pending ones) move.
        await self._redis.zadd(self._key("due"), {approval_id: score(at)}, xx=True)

    @_guarded
    async def next_due_at(self) -> datetime | None:
        first = await self._redis.zrange(self._key("due"), 0, 0, withscores=True)
        return from_score(first[0][1]) if first else None

    # --- /updates cursor ----------------------------------------------------------------
    @_guarded
    async def get_cursor(self) -> str | None:
        value = await self._redis.get(self._key("cursor"))
        return None if value is None else str(value)

    @_guarded
    async def set_cursor(self, cursor: str) -> None:
        await self._redis.set(self._key("cursor"), cursor)

    # --- leases (real time) ---------------------------------------------------------------
    @_guarded
    async def acquire_lease(self, name: str, owner: str, ttl: timedelta) -> bool:
        args: list[Arg] = [self._key("lease", name), owner, millis(ttl)]
        return bool(await self._scripts.acquire_lease(args=args))

    @_guarded
    async def release_lease(self, name: str, owner: str) -> bool:
        return bool(await self._scripts.release_lease(args=[self._key("lease", name), owner]))

    @_guarded
    async def lease_holder(self, name: str) -> str | None:
        value = await self._redis.get(self._key("lease", name))
        return None if value is None else str(value)

    # --- once-keys (real time) ------------------------------------------------------------
    @_guarded
    async def claim_key(self, key: str, ttl: timedelta) -> bool:
        return bool(await self._redis.set(self._key("key", key), "1", nx=True, px=millis(ttl)))

    # --- outbox -------------------------------------------------------------------------
    @_guarded
    async def enqueue_effects(self, effects: Sequence[Effect]) -> int:
        if not effects:
            return 0
        return int(await self._scripts.enqueue_effects(args=[self._prefix, *effect_args(effects)]))

    @_guarded
    async def claim_effects(
        self, now: datetime, owner: str, *, limit: int, lease: timedelta
    ) -> list[Effect]:
        if limit <= 0:
            return []
        until = now + lease
        args: list[Arg] = [self._prefix, score(now), score(until), limit]
        records: list[str] = await self._scripts.claim_effects(args=args)
        return [Effect.model_validate_json(r).model_copy(update={"due_at": until}) for r in records]

    @_guarded
    async def complete_effect(self, effect_id: str, result: dict[str, Any] | None) -> None:
        await self._change_effect(
            effect_id, lambda e: e.model_copy(update={"done": True, "result": result})
        )

    @_guarded
    async def retry_effect(
        self, effect_id: str, at: datetime, error: str, *, count_attempt: bool = True
    ) -> None:
        def retried(current: Effect) -> Effect | None:
            # A late retry must not revive an effect another worker already completed.
            if current.done:
                return None
            attempts = current.attempts + 1 if count_attempt else current.attempts
            changes = {"attempts": attempts, "last_error": error, "due_at": at}
            return current.model_copy(update=changes)

        await self._change_effect(effect_id, retried)

    @_guarded
    async def mark_started(self, effect_id: str, at: datetime) -> None:
        def started(current: Effect) -> Effect | None:
            return None if current.done else current.model_copy(update={"started_at": at})

        await self._change_effect(effect_id, started, keep_due=True)

    async def _change_effect(
        self, effect_id: str, change: Callable[[Effect], Effect | None], *, keep_due: bool = False
    ) -> None:
        """Read-modify-write of one effect, retried while another writer gets there first.

        `keep_due`: leave its due time (a claim's lease lives there) as it is.
        """
        while True:
            stored = await self._redis.hget(self._key("outbox"), effect_id)
            if stored is None:
                return
            raw = text(stored)
            changed = change(Effect.model_validate_json(raw))
            if changed is None:
                return
            due = "keep" if keep_due else "" if changed.done else score(changed.due_at)
            args: list[Arg] = [self._prefix, effect_id, raw, changed.model_dump_json(), due]
            if await self._scripts.save_effect(args=args):
                return

    @_guarded
    async def get_effect(self, effect_id: str) -> Effect | None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hget(self._key("outbox"), effect_id)
            pipe.zscore(self._key("outbox", "due"), effect_id)
            raw, due = await pipe.execute()
        if raw is None:
            return None
        stored = Effect.model_validate_json(raw)
        return stored if due is None else stored.model_copy(update={"due_at": from_score(due)})

    # --- routes ---------------------------------------------------------------------------
    @_guarded
    async def set_route(self, key: str, channel_id: str) -> None:
        await self._redis.hset(self._key("routes"), key, channel_id)

    @_guarded
    async def get_route(self, key: str) -> str | None:
        value = await self._redis.hget(self._key("routes"), key)
        return None if value is None else str(value)

    @_guarded
    async def delete_route(self, key: str) -> bool:
        return bool(await self._redis.hdel(self._key("routes"), key))

    @_guarded
    async def list_routes(self) -> dict[str, str]:
        routes = await self._redis.hgetall(self._key("routes"))
        return {text(key): text(channel) for key, channel in sorted(routes.items())}

    # --- settings records (typed by bot/store/kinds.py) -----------------------------------
    @_guarded
    async def _text_get(self, key: str) -> str | None:
        value = await self._redis.hget(self._key("config"), key)
        return None if value is None else text(value)

    @_guarded
    async def _text_put(self, key: str, value: str) -> None:
        await self._redis.hset(self._key("config"), key, value)

    @_guarded
    async def _text_list(self, prefix: str) -> dict[str, str]:
        pattern = re.sub(r"([*?\[\]\\])", r"\\\1", prefix) + "*"
        found = {
            text(key): text(value)
            async for key, value in self._redis.hscan_iter(self._key("config"), match=pattern)
        }
        return dict(sorted(found.items()))

    @_guarded
    async def _text_delete(self, key: str) -> bool:
        return bool(await self._redis.hdel(self._key("config"), key))

    # --- lifecycle ------------------------------------------------------------------------
    @_guarded
    async def ping(self) -> str:
        info = await self._redis.info("server")
        return f"redis {info.get('redis_version', '?')} at {self.address}"

    async def close(self) -> None:
        await self._redis.aclose()
