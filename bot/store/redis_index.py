"""The Redis store's pending index operations (bot/store/redis.py mixes them in; the key
layout and the Lua are in bot/store/redis_index_scripts.py)."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import RedisError

from bot.store.base import StoreUnavailable
from bot.store.pending_index import Concern, Watch, channel_key
from bot.store.records import ParsedApprovals
from bot.store.redis_index_scripts import LIVE_NAMES, REINDEX, SET_WATCHES, STAMP_IDS
from bot.store.redis_scripts import GET_APPROVALS, READ_APPROVAL, Arg, from_score, score, text
from bot.tracked_approvals import TrackedApproval, TrackedStatus

PAGE = 500
REINDEX_PAGE = 1000

# ARGV: prefix, watch, until score, limit. Flat quadruples as the store's other reads.
WATCHED = (
    READ_APPROVAL
    + """
local p = ARGV[1]
local key = p .. 'watch:' .. ARGV[2]
local ids = redis.call('ZRANGEBYSCORE', key, '-inf', ARGV[3], 'LIMIT', 0, ARGV[4])
local out = {}
for _, id in ipairs(ids) do read(p, id, out) end
return out
"""
)


class RedisIndex:
    """The pending-index operations of `RedisStore` (whose client, prefix and parsed records
    they use)."""

    if TYPE_CHECKING:
        _redis: Redis
        _prefix: str
        _parsed: ParsedApprovals

        @property
        def address(self) -> str: ...

        def _approvals(self, flat: list[str]) -> list[TrackedApproval]: ...

    async def ensure_index(self) -> None:
        """Index the pending approvals stored before the index existed (once per Redis)."""
        async with self._index_guard():
            if await self._redis.exists(self._prefix + "pi:ready"):
                return
            pending = await self._redis.zrange(self._prefix + "status:pending", 0, -1)
            for first in range(0, len(pending), REINDEX_PAGE):
                page = pending[first : first + REINDEX_PAGE]
                await self._index_scripts["reindex"](args=[self._prefix, *page])
            await self._redis.set(self._prefix + "pi:ready", "1")

    async def pending_concerning(self, concern: Concern) -> list[TrackedApproval]:
        p = self._prefix
        async with self._index_guard():
            keys = [f"{p}pi:channel:{channel_key(channel)}" for channel in concern.channels]
            if concern.all_channels_but is not None:
                known = {text(c) for c in await self._redis.smembers(p + "pi:channels")}
                but = concern.all_channels_but
                keys += [f"{p}pi:channel:{channel}" for channel in known if channel not in but]
            if concern.requester is not None:
                keys.append(f"{p}pi:requester:{concern.requester}")
            keys += [f"{p}pi:to:{recipient}" for recipient in concern.recipients]
            ids = sorted(text(i) for i in await self._redis.sunion(keys)) if keys else []
            found = await self._read_pending(ids)
        return sorted(found, key=lambda a: (a.adopted_at, a.approval_id), reverse=True)

    async def escalation_recipients(self) -> set[str]:
        args = [self._prefix, "pi:recipients", "pi:to:"]
        async with self._index_guard():
            return {str(name) for name in await self._index_scripts["live_names"](args=args)}

    async def watched(self, watch: Watch, until: datetime, *, limit: int) -> list[TrackedApproval]:
        if limit <= 0:
            return []
        args: list[Arg] = [self._prefix, watch.value, score(until), limit]
        async with self._index_guard():
            flat = await self._index_scripts["watched"](args=args)
        return [a for a in self._approvals(flat) if a.status is TrackedStatus.PENDING]

    async def set_watches(self, watch: Watch, times: Mapping[str, datetime | None]) -> None:
        pairs: list[Arg] = []
        for approval_id, at in times.items():
            pairs += [approval_id, "" if at is None else score(at)]
        async with self._index_guard():
            for first in range(0, len(pairs), 2 * PAGE):
                page = pairs[first : first + 2 * PAGE]
                await self._index_scripts["set_watches"](args=[self._prefix, watch.value, *page])

    async def watch_all(self, watch: Watch) -> None:
        # status:pending is scored by adoption: the watch becomes a copy of it.
        p = self._prefix
        async with self._index_guard():
            await self._redis.zunionstore(f"{p}watch:{watch.value}", [f"{p}status:pending"])

    async def _read_pending(self, ids: list[str]) -> list[TrackedApproval]:
        """The pending approvals among `ids`; JSON read only for those not parsed before."""
        listed: dict[str, TrackedApproval | None] = {}
        for first in range(0, len(ids), PAGE):
            page = ids[first : first + PAGE]
            stamps: str = await self._index_scripts["stamp_ids"](args=[self._prefix, *page])
            for line in stamps.splitlines():
                approval_id, status, version, due = line.split(" ")
                if status == TrackedStatus.PENDING.value:
                    due_at = from_score(due) if due else None
                    listed[approval_id] = self._parsed.known(approval_id, int(version), due_at)
        unknown = [approval_id for approval_id, found in listed.items() if found is None]
        for first in range(0, len(unknown), PAGE):
            page = unknown[first : first + PAGE]
            read = await self._index_scripts["get"](args=[self._prefix, *page])
            for found in self._approvals(read):
                listed[found.approval_id] = found
        return [a for a in listed.values() if a is not None and a.status is TrackedStatus.PENDING]

    @functools.cached_property
    def _index_scripts(self) -> dict[str, AsyncScript]:
        sources = {
            "reindex": REINDEX,
            "stamp_ids": STAMP_IDS,
            "set_watches": SET_WATCHES,
            "live_names": LIVE_NAMES,
            "watched": WATCHED,
            "get": GET_APPROVALS,
        }
        return {name: self._redis.register_script(source) for name, source in sources.items()}

    @contextlib.asynccontextmanager
    async def _index_guard(self) -> AsyncIterator[None]:
        """Redis errors as StoreUnavailable, as every other operation of the store."""
        try:
            yield
        except RedisError as exc:
            raise StoreUnavailable(f"redis at {self.address}: {exc}") from exc
