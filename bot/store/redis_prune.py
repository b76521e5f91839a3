"""The Redis store's `prune` passes (bot/store/pruning.py says what goes); the audit log's
is in bot/store/redis_audit.py. Every batch is one short script.

Ended approvals are found by their status indexes (adopted before the cutoff), read, and
removed by a script that checks each is still ended and at the version read. Done effects
have no index of their own (the outbox only indexes undone ones): the outbox hash is
scanned a page at a time by a script that answers only the done effects whose subject is
not a stored approval, which are then removed by another that checks each is still done.
"""

from __future__ import annotations

import functools
import json
from datetime import datetime
from typing import TYPE_CHECKING

from redis.commands.core import AsyncScript

from bot.store.pruning import APPROVALS, PRUNE_BATCH, PruneOverParts, done_before, resolved_before
from bot.store.redis_part import RedisPart
from bot.store.redis_scripts import Arg, score, text
from bot.tracked_approvals import TrackedStatus

if TYPE_CHECKING:
    from bot.store.records import ParsedApprovals
    from bot.store.redis_scripts import Scripts

ENDED = tuple(status for status in TrackedStatus if status.is_terminal)

# ARGV: prefix, then (id, version, proposal id or '') triples. Removes each approval that is
# still ended and at that version, with its indexes; answers the ids removed.
PRUNE_APPROVALS = """
local p = ARGV[1]
local gone = {}
for i = 2, #ARGV, 3 do
  local id, version, proposal = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local key = p .. 'approval:' .. id
  local h = redis.call('HMGET', key, 'status', 'version')
  if h[1] and h[1] ~= 'pending' and h[2] == version then
    redis.call('DEL', key)
    redis.call('ZREM', p .. 'approvals', id)
    redis.call('ZREM', p .. 'status:' .. h[1], id)
    redis.call('ZREM', p .. 'due', id)
    if proposal ~= '' then redis.call('SREM', p .. 'proposal:' .. proposal, id) end
    gone[#gone + 1] = id
  end
end
return gone
"""

# ARGV: prefix, HSCAN cursor, page size, '1' to answer done effects of stored approvals too
# (a dry run: those approvals may be about to go). Answers the next cursor, then per done
# effect: id, subject, due_at ('' if none), '1' when an approval by that subject is stored.
DONE_EFFECTS = """
local p = ARGV[1]
local scanned = redis.call('HSCAN', p .. 'outbox', ARGV[2], 'COUNT', ARGV[3])
local out = {scanned[1]}
local fields = scanned[2]
for i = 1, #fields, 2 do
  local id = fields[i]
  if not redis.call('ZSCORE', p .. 'outbox:due', id) then
    local ok, e = pcall(cjson.decode, fields[i + 1])
    if ok and type(e) == 'table' and e.done == true then
      local subject = e.subject
      if type(subject) ~= 'string' then subject = e.approval_id end
      if type(subject) ~= 'string' then subject = '' end
      local stored = redis.call('EXISTS', p .. 'approval:' .. subject) == 1
      if ARGV[4] == '1' or not stored then
        local due = e.due_at
        if type(due) ~= 'string' then due = '' end
        out[#out + 1] = id
        out[#out + 1] = subject
        out[#out + 1] = due
        out[#out + 1] = stored and '1' or '0'
      end
    end
  end
end
return out
"""

# ARGV: prefix, then effect ids. Removes each that is still done; answers how many went.
PRUNE_EFFECTS = """
local p = ARGV[1]
local gone = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  if not redis.call('ZSCORE', p .. 'outbox:due', id) then
    local json = redis.call('HGET', p .. 'outbox', id)
    local ok, e = pcall(cjson.decode, json or 'null')
    if ok and type(e) == 'table' and e.done == true then
      redis.call('HDEL', p .. 'outbox', id)
      gone = gone + 1
    end
  end
end
return gone
"""


class RedisPrune(PruneOverParts, RedisPart):
    """The approval and effect passes of `RedisStore`'s `prune`."""

    if TYPE_CHECKING:
        _scripts: Scripts
        _parsed: ParsedApprovals

    async def _prune_approvals(
        self, before: datetime, *, dry_run: bool, counts: dict[str, int]
    ) -> set[str]:
        pruned: set[str] = set()
        for status in ENDED:
            index = f"{self._prefix}status:{status.value}"
            offset = 0  # past the ones kept: the index shrinks as approvals go
            while True:
                async with self._guard():
                    ids = await self._redis.zrangebyscore(
                        index, "-inf", f"({score(before)}", start=offset, num=PRUNE_BATCH
                    )
                    found = [self._prefix, *ids]
                    flat = await self._scripts.get_approvals(args=found) if ids else []
                ended: list[Arg] = []
                for i in range(0, len(flat), 4):
                    approval_id, record, version, _ = flat[i : i + 4]
                    stored = json.loads(record)
                    if resolved_before(stored.get("resolved_at"), before):
                        ended += [approval_id, version, stored.get("proposal_id") or ""]
                gone = [str(a) for a in ended[::3]]
                if ended and not dry_run:
                    async with self._guard():
                        removed = await self._prune_approvals_script(args=[self._prefix, *ended])
                    gone = [text(approval_id) for approval_id in removed]
                    self._parsed.forget(gone)
                pruned.update(gone)
                counts[APPROVALS] += len(gone)
                offset += len(ids) if dry_run else len(ids) - len(gone)
                if len(ids) < PRUNE_BATCH:
                    break
        return pruned

    async def _prune_effects(
        self, before: datetime, approval_ids: set[str], *, dry_run: bool
    ) -> int:
        found: set[str] = set()  # a scan may answer an effect twice: counted once
        pruned = 0
        cursor = "0"
        while True:
            args: list[Arg] = [self._prefix, cursor, PRUNE_BATCH, "1" if dry_run else "0"]
            async with self._guard():
                flat = await self._done_effects_script(args=args)
            cursor = text(flat[0])
            gone: list[Arg] = []
            for i in range(1, len(flat), 4):
                effect_id, subject, due_at, stored = (text(value) for value in flat[i : i + 4])
                if effect_id not in found and (
                    subject in approval_ids or (stored == "0" and done_before(due_at, before))
                ):
                    gone.append(effect_id)
                    if dry_run:
                        found.add(effect_id)
            if gone and dry_run:
                pruned += len(gone)
            elif gone:
                async with self._guard():
                    pruned += int(await self._prune_effects_script(args=[self._prefix, *gone]))
            if cursor == "0":
                return pruned

    @functools.cached_property
    def _prune_approvals_script(self) -> AsyncScript:
        return self._redis.register_script(PRUNE_APPROVALS)

    @functools.cached_property
    def _done_effects_script(self) -> AsyncScript:
        return self._redis.register_script(DONE_EFFECTS)

    @functools.cached_property
    def _prune_effects_script(self) -> AsyncScript:
        return self._redis.register_script(PRUNE_EFFECTS)
