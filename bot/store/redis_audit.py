"""The Redis store's audit log (bot/store/redis.py mixes it in).

Layout under the prefix:
  audit                  stream of AuditEntry JSON (field `json`); each entry's id is its
                         `at` in ms, or one past the last id when that is later (ids only
                         grow; a replica whose clock is behind appends just after the last)
  audit:approval:<id>    list of the same entries for one approval, so reading one
                         approval's history never scans the whole stream

Because an id is never earlier than its entry's time, a time is an id range: reads from
`since` start at its id, and pruning trims the stream below the cutoff's id (`XTRIM MINID`),
a page at a time, removing each trimmed entry from its approval's list in the same script.
Entries appended before ids were times (Redis' own clock then) read and trim the same way,
to within the clocks' skew.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncGenerator, AsyncIterator
from datetime import datetime

from redis.commands.core import AsyncScript

from bot.audit_log import AuditEntry
from bot.store.base import AUDIT_PAGE
from bot.store.pruning import PRUNE_BATCH
from bot.store.redis_part import RedisPart
from bot.store.redis_scripts import Arg, score, text

# ARGV: prefix, entry JSON, its time in ms, its approval id ('' for none).
APPEND = """
local p, record, ms, approval = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local key = p .. 'audit'
local seq = 0
if redis.call('EXISTS', key) == 1 then
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then
      local last_ms, last_seq = string.match(info[i + 1], '^(%d+)-(%d+)$')
      if tonumber(last_ms) >= ms then ms, seq = tonumber(last_ms), tonumber(last_seq) + 1 end
    end
  end
end
if ms <= 0 and seq == 0 then ms, seq = 0, 1 end
redis.call('XADD', key, string.format('%.0f-%.0f', ms, seq), 'json', record)
if approval ~= '' then redis.call('RPUSH', p .. 'audit:approval:' .. approval, record) end
return 1
"""

# ARGV: prefix, the last id to remove (inclusive: "<ms>" is every id of that ms), how many
# at most. Removes the stream's oldest entries up to it, each also from its approval's list.
TRIM = """
local p = ARGV[1]
local key = p .. 'audit'
local page = redis.call('XRANGE', key, '-', ARGV[2], 'COUNT', ARGV[3])
if #page == 0 then return 0 end
for _, entry in ipairs(page) do
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'json' then
      local ok, decoded = pcall(cjson.decode, fields[i + 1])
      if ok and type(decoded) == 'table' and type(decoded.approval_id) == 'string' then
        redis.call('LREM', p .. 'audit:approval:' .. decoded.approval_id, 1, fields[i + 1])
      end
    end
  end
end
local last_ms, last_seq = string.match(page[#page][1], '^(%d+)-(%d+)$')
redis.call('XTRIM', key, 'MINID', last_ms .. '-' .. string.format('%.0f', tonumber(last_seq) + 1))
return #page
"""

# ARGV: the stream's key, first id (may be exclusive), last id, how many at most.
# Answers how many there are and the last one's id, without sending the entries.
COUNT = """
local page = redis.call('XRANGE', ARGV[1], ARGV[2], ARGV[3], 'COUNT', ARGV[4])
if #page == 0 then return {0, ''} end
return {#page, page[#page][1]}
"""


def stream_ms(at: datetime) -> int:
    """The stream id (ms) of a time: the whole milliseconds of `at`."""
    return score(at) // 1000


class RedisAudit(RedisPart):
    """The audit log part of `RedisStore`; see the module docstring for its layout."""

    async def append_audit(self, entry: AuditEntry) -> None:
        record = entry.model_dump_json()
        args: list[Arg] = [self._prefix, record, stream_ms(entry.at), entry.approval_id or ""]
        async with self._guard():
            await self._append_script(args=args)

    async def read_audit(
        self,
        *,
        approval_id: str | None = None,
        since: datetime | None = None,
        limit: int = 10_000,
    ) -> list[AuditEntry]:
        if limit <= 0:
            return []
        found: list[AuditEntry] = []
        pages = (
            self._stream_pages(since, min(limit, AUDIT_PAGE))
            if approval_id is None
            else self._history_pages(approval_id, min(limit, AUDIT_PAGE))
        )
        async with contextlib.aclosing(pages):
            async for page in pages:
                found += [e for e in page if since is None or e.at >= since]
                if len(found) >= limit:
                    break
        # Stable: entries with the same time keep their append order.
        found.sort(key=lambda e: e.at)
        return found[:limit]

    async def iter_audit(
        self, *, since: datetime | None = None, page: int = AUDIT_PAGE
    ) -> AsyncIterator[AuditEntry]:
        pages = self._stream_pages(since, max(page, 1))
        async with contextlib.aclosing(pages):
            async for entries in pages:
                for entry in entries:
                    if since is None or entry.at >= since:
                        yield entry

    async def _stream_pages(
        self, since: datetime | None, count: int
    ) -> AsyncGenerator[list[AuditEntry], None]:
        # No id is earlier than its entry's time: entries at or after `since` start at its id.
        start = "-" if since is None else str(stream_ms(since))
        while True:
            async with self._guard():
                rows = await self._redis.xrange(self._key_audit, min=start, count=count) or []
            yield [AuditEntry.model_validate_json(fields["json"]) for _, fields in rows if fields]
            if len(rows) < count:
                return
            start = f"({text(rows[-1][0] or '')}"

    async def _history_pages(
        self, approval_id: str, count: int
    ) -> AsyncGenerator[list[AuditEntry], None]:
        key = f"{self._key_audit}:approval:{approval_id}"
        first = 0
        while True:
            async with self._guard():
                records = await self._redis.lrange(key, first, first + count - 1)
            yield [AuditEntry.model_validate_json(text(record)) for record in records]
            if len(records) < count:
                return
            first += count

    async def _prune_audit(self, before: datetime, *, dry_run: bool) -> int:
        last = stream_ms(before) - 1  # every id below the cutoff's: "<ms>" ends with that ms
        if last < 0:
            return 0
        pruned = 0
        start = "-"
        while True:
            async with self._guard():
                args: list[Arg]
                if dry_run:
                    args = [self._key_audit, start, last, PRUNE_BATCH]
                    found, last_id = await self._count_script(args=args)
                    start = f"({text(last_id)}"
                else:
                    args = [self._prefix, last, PRUNE_BATCH]
                    found = await self._trim_script(args=args)
            pruned += int(found)
            if int(found) < PRUNE_BATCH:
                return pruned

    @property
    def _key_audit(self) -> str:
        return self._prefix + "audit"

    @functools.cached_property
    def _append_script(self) -> AsyncScript:
        return self._redis.register_script(APPEND)

    @functools.cached_property
    def _trim_script(self) -> AsyncScript:
        return self._redis.register_script(TRIM)

    @functools.cached_property
    def _count_script(self) -> AsyncScript:
        return self._redis.register_script(COUNT)
