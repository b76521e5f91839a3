"""The Redis store's counts (bot/store/redis.py mixes them in): approvals and effects by
their indexes' sizes, pending approvals by type and undone effects by kind (`/metrics`).

Neither type nor kind has an index of its own, so those two are one script each that
reads the pending (undone) records' JSON inside Redis and answers only the counts. The
name is taken from the record's text, not by decoding it: a record's JSON names its id
(a string) before its type or kind, and inside a JSON string every `"` is escaped, so
the first `"type":"` (`"kind":"`) is the record's own. A record that does not match is
decoded in full.
"""

from __future__ import annotations

import functools

from redis.commands.core import AsyncScript

from bot.opentrain.models import ApprovalType
from bot.outbox import EffectKind
from bot.store.base import tally
from bot.store.redis_part import RedisPart
from bot.tracked_approvals import TrackedStatus

# ARGV: prefix; the index of the ids to count; where their records are: one hash of them
# (`outbox`), or when that is '' a hash per id under a key prefix (`approval:<id>`, field
# `json`); the Lua pattern capturing the name; the name's key in the JSON.
# Answers name, count, name, count, …
TALLY = """
local p, index, hash, per_id, pattern = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local counts, names = {}, {}
for _, id in ipairs(redis.call('ZRANGE', p .. index, 0, -1)) do
  local json
  if hash == '' then json = redis.call('HGET', p .. per_id .. id, 'json')
  else json = redis.call('HGET', p .. hash, id) end
  if json then
    local name = string.match(json, pattern)
    if not name then
      name = cjson.decode(json)[ARGV[6]]
      if type(name) ~= 'string' then name = '' end
    end
    if not counts[name] then
      counts[name] = 0
      names[#names + 1] = name
    end
    counts[name] = counts[name] + 1
  end
end
local out = {}
for _, name in ipairs(names) do
  out[#out + 1] = name
  out[#out + 1] = counts[name]
end
return out
"""
PENDING_BY_TYPE = ["status:pending", "", "approval:", '"type":"([^"]*)"', "type"]
UNDONE_BY_KIND = ["outbox:due", "outbox", "", '"kind":"([^"]*)"', "kind"]


class RedisCounts(RedisPart):
    """The counting operations of `RedisStore` (whose client, prefix and address they use)."""

    async def count_approvals(self, *, status: TrackedStatus | None = None) -> int:
        index = "approvals" if status is None else f"status:{status.value}"
        async with self._guard():
            return int(await self._redis.zcard(self._prefix + index))

    async def count_effects(self, *, done: bool | None = None) -> int:
        async with self._guard(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hlen(self._prefix + "outbox")
            pipe.zcard(self._prefix + "outbox:due")
            total, undone = await pipe.execute()
        if done is None:
            return int(total)
        return int(total) - int(undone) if done else int(undone)

    async def count_pending_by_type(self) -> dict[ApprovalType, int]:
        return tally(await self._tally(PENDING_BY_TYPE), ApprovalType)

    async def count_undone_effects_by_kind(self) -> dict[EffectKind, int]:
        return tally(await self._tally(UNDONE_BY_KIND), EffectKind)

    async def _tally(self, args: list[str]) -> list[tuple[str, int]]:
        async with self._guard():
            flat = await self._tally_script(args=[self._prefix, *args])
        return [(str(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    @functools.cached_property
    def _tally_script(self) -> AsyncScript:
        return self._redis.register_script(TALLY)
