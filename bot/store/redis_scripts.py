"""The Redis store's server-side Lua scripts (each one atomic in Redis), and how the
store turns its records and times into the arguments and scores they take
(bot/store/redis.py registers and runs them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from bot.outbox import Effect
from bot.store.redis_index_scripts import PINDEX
from bot.tracked_approvals import TrackedApproval

Arg = str | int

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)

# Appends each found approval's id, JSON, version and due score (or '') to a flat list.
READ_APPROVAL = """
local function read(p, id, out)
  local h = redis.call('HMGET', p .. 'approval:' .. id, 'json', 'version')
  if not h[1] then return end
  out[#out + 1] = id
  out[#out + 1] = h[1]
  out[#out + 1] = h[2]
  out[#out + 1] = redis.call('ZSCORE', p .. 'due', id) or ''
end
"""

ENQUEUE = """
local function enqueue(p, first)
  local new = 0
  for i = first, #ARGV, 4 do
    if redis.call('HSETNX', p .. 'outbox', ARGV[i], ARGV[i + 1]) == 1 then
      new = new + 1
      if ARGV[i + 3] == '0' then redis.call('ZADD', p .. 'outbox:due', ARGV[i + 2], ARGV[i]) end
    end
  end
  return new
end
"""

# Writes the indexes of one approval record: ARGV from `first` are
# id, status, adopted score, due score, proposal id ('' for none); ARGV[2] is its JSON
# (the pending index reads it: bot/store/redis_index_scripts.py).
INDEX = (
    PINDEX
    + """
local function index(p, first, old_status)
  local id, status, adopted, due, proposal =
    ARGV[first], ARGV[first + 1], ARGV[first + 2], ARGV[first + 3], ARGV[first + 4]
  if old_status and old_status ~= status then
    redis.call('ZREM', p .. 'status:' .. old_status, id)
  end
  redis.call('ZADD', p .. 'approvals', adopted, id)
  redis.call('ZADD', p .. 'status:' .. status, adopted, id)
  if status == 'pending' then
    redis.call('ZADD', p .. 'due', due, id)
  else
    redis.call('ZREM', p .. 'due', id)
  end
  if proposal ~= '' then redis.call('SADD', p .. 'proposal:' .. proposal, id) end
  pindex(p, id, ARGV[2], status, adopted)
end
"""
)

# ARGV: prefix, json, version, then the index arguments, then effect quadruples.
ADD = (
    INDEX
    + ENQUEUE
    + """
local p = ARGV[1]
local key = p .. 'approval:' .. ARGV[4]
if redis.call('EXISTS', key) == 1 then return 0 end
redis.call('HSET', key, 'json', ARGV[2], 'status', ARGV[5], 'version', ARGV[3])
index(p, 4, nil)
enqueue(p, 9)
return 1
"""
)

# ARGV: prefix, json, expected version, then the index arguments (due unused: the
# due index keeps its own time, so claims and reschedules are not undone here).
UPDATE = (
    READ_APPROVAL
    + PINDEX
    + """
local p, id, status = ARGV[1], ARGV[4], ARGV[5]
local key = p .. 'approval:' .. id
local h = redis.call('HMGET', key, 'version', 'status')
if h[1] ~= ARGV[3] or h[2] ~= status then return false end
redis.call('HSET', key, 'json', ARGV[2])
redis.call('HINCRBY', key, 'version', 1)
redis.call('ZADD', p .. 'approvals', ARGV[6], id)
redis.call('ZADD', p .. 'status:' .. status, ARGV[6], id)
if ARGV[8] ~= '' then redis.call('SADD', p .. 'proposal:' .. ARGV[8], id) end
pindex(p, id, ARGV[2], status, ARGV[6])
local out = {}
read(p, id, out)
return out
"""
)

# ARGV: prefix, json, expected status, expected version, the index arguments,
# then effect quadruples.
TRANSITION = (
    INDEX
    + ENQUEUE
    + """
local p, expected = ARGV[1], ARGV[3]
local key = p .. 'approval:' .. ARGV[5]
local h = redis.call('HMGET', key, 'status', 'version')
if h[1] ~= expected or h[2] ~= ARGV[4] then return 0 end
redis.call('HSET', key, 'json', ARGV[2], 'status', ARGV[6])
redis.call('HINCRBY', key, 'version', 1)
index(p, 5, expected)
enqueue(p, 10)
return 1
"""
)

# ARGV: prefix, now score, lease score, limit.
CLAIM_DUE = (
    READ_APPROVAL
    + """
local p = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', p .. 'due', '-inf', ARGV[2], 'LIMIT', 0, ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', p .. 'due', ARGV[3], id)
  read(p, id, out)
end
return out
"""
)

# ARGV: prefix, then ids.
GET_APPROVALS = (
    READ_APPROVAL
    + """
local out = {}
for i = 2, #ARGV do read(ARGV[1], ARGV[i], out) end
return out
"""
)

# ARGV: prefix, index key suffix, limit, earliest adopted score ('-inf' for all).
# Newest adopted first, without the JSON: one
# line per approval, "id status version due-score-or-empty", in a single string (a
# reply of thousands of elements costs the client far more to parse than one string).
STAMP_LISTING = """
local p = ARGV[1]
local ids = redis.call('ZREVRANGEBYSCORE', p .. ARGV[2], '+inf', ARGV[4], 'LIMIT', 0, ARGV[3])
local lines = {}
for _, id in ipairs(ids) do
  local h = redis.call('HMGET', p .. 'approval:' .. id, 'status', 'version')
  if h[1] then
    local due = redis.call('ZSCORE', p .. 'due', id) or ''
    lines[#lines + 1] = id .. ' ' .. h[1] .. ' ' .. h[2] .. ' ' .. due
  end
end
return table.concat(lines, '\\n')
"""

# ARGV: prefix, then effect quadruples (id, json, due score, done '0'/'1').
ENQUEUE_EFFECTS = ENQUEUE + "return enqueue(ARGV[1], 2)"

# ARGV: prefix, now score, lease score, limit. Returns id, json pairs.
CLAIM_EFFECTS = """
local p = ARGV[1]
local ids = redis.call('ZRANGEBYSCORE', p .. 'outbox:due', '-inf', ARGV[2], 'LIMIT', 0, ARGV[4])
local out = {}
for _, id in ipairs(ids) do
  redis.call('ZADD', p .. 'outbox:due', ARGV[3], id)
  out[#out + 1] = redis.call('HGET', p .. 'outbox', id)
end
return out
"""

# Compare-and-set of one effect's JSON. ARGV: prefix, id, old json, new json, due
# score ('' once done, 'keep' to leave the due time, i.e. a claim, as it is).
SAVE_EFFECT = """
local p, id = ARGV[1], ARGV[2]
if redis.call('HGET', p .. 'outbox', id) ~= ARGV[3] then return 0 end
redis.call('HSET', p .. 'outbox', id, ARGV[4])
if ARGV[5] == 'keep' then
  return 1
elseif ARGV[5] == '' then
  redis.call('ZREM', p .. 'outbox:due', id)
else
  redis.call('ZADD', p .. 'outbox:due', ARGV[5], id)
end
return 1
"""

# ARGV: lease key, owner, ttl ms. SET NX PX, or renewal by the holder.
ACQUIRE_LEASE = """
if redis.call('SET', ARGV[1], ARGV[2], 'NX', 'PX', ARGV[3]) then return 1 end
if redis.call('GET', ARGV[1]) == ARGV[2] then
  redis.call('PEXPIRE', ARGV[1], ARGV[3])
  return 1
end
return 0
"""

RELEASE_LEASE = """
if redis.call('GET', ARGV[1]) == ARGV[2] then return redis.call('DEL', ARGV[1]) end
return 0
"""


@dataclass(frozen=True)
class Scripts:
    """Every script above, registered on one client (sent by SHA, loaded on first use)."""

    add: AsyncScript
    update: AsyncScript
    transition: AsyncScript
    get_approvals: AsyncScript
    stamp_listing: AsyncScript
    claim_due: AsyncScript
    enqueue_effects: AsyncScript
    claim_effects: AsyncScript
    save_effect: AsyncScript
    acquire_lease: AsyncScript
    release_lease: AsyncScript

    @classmethod
    def register(cls, redis: Redis) -> Scripts:
        sources = {
            "add": ADD,
            "update": UPDATE,
            "transition": TRANSITION,
            "get_approvals": GET_APPROVALS,
            "stamp_listing": STAMP_LISTING,
            "claim_due": CLAIM_DUE,
            "enqueue_effects": ENQUEUE_EFFECTS,
            "claim_effects": CLAIM_EFFECTS,
            "save_effect": SAVE_EFFECT,
            "acquire_lease": ACQUIRE_LEASE,
            "release_lease": RELEASE_LEASE,
        }
        return cls(**{name: redis.register_script(source) for name, source in sources.items()})


# --- conversions -------------------------------------------------------------------------


def index_args(approval: TrackedApproval) -> list[Arg]:
    return [
        approval.approval_id,
        approval.status.value,
        score(approval.adopted_at),
        score(approval.next_check_at),
        approval.proposal_id or "",
    ]


def effect_args(effects: Sequence[Effect]) -> list[Arg]:
    args: list[Arg] = []
    for item in effects:
        args += [item.id, item.model_dump_json(), score(item.due_at), int(item.done)]
    return args


def text(value: bytes | str) -> str:
    """Narrows redis-py's `bytes | str` reply type: our client decodes replies to str."""
    return value if isinstance(value, str) else value.decode()


def score(at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("the store only takes timezone-aware datetimes")
    return (at - EPOCH) // MICROSECOND


def from_score(score: str | float) -> datetime:
    return EPOCH + timedelta(microseconds=int(float(score)))


def millis(ttl: timedelta) -> int:
    if ttl <= timedelta(0):
        raise ValueError("a lease or key TTL must be positive")
    # Rounded up: a sub-millisecond TTL still exists for a moment.
    return max(1, -(-ttl // timedelta(milliseconds=1)))
