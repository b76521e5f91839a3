"""The Redis store's Lua for the pending index (bot/store/pending_index.py).

Layout under the prefix, beside bot/store/redis.py's:
  pi:channel:<channel>     set of pending ids in that channel ('' for none)
  pi:channels              every channel key ever indexed (only grows; few)
  pi:requester:<user>      set of pending ids a Slack user asked for
  pi:to:<recipient>        set of pending ids escalated to a user, group or ADMINS
  pi:recipients            every recipient ever indexed (only grows; few)
  watch:<watch>            sorted set of pending ids, score = when to look next (µs)
  pi:ready                 set once the approvals stored before the index are indexed
  approval:<id> field pi   what the approval is indexed under ("channel\\trequester\\tr1,r2"),
                           so the next write of it can take it out again

`PINDEX` runs inside the scripts that write an approval (redis_scripts.py), so the
index changes atomically with the record.
"""

from __future__ import annotations

from bot.store.pending_index import ADMINS

# pindex(p, id, json, status, adopted score): the index of one approval as just written.
PINDEX = (
    """
local function split(s, sep)
  local out, from = {}, 1
  while true do
    local at = string.find(s, sep, from, true)
    if not at then
      out[#out + 1] = string.sub(s, from)
      return out
    end
    out[#out + 1] = string.sub(s, from, at - 1)
    from = at + 1
  end
end

local function pindex(p, id, json, status, adopted)
  local key = p .. 'approval:' .. id
  local old = redis.call('HGET', key, 'pi')
  if old then
    local was = split(old, '\\t')
    redis.call('SREM', p .. 'pi:channel:' .. was[1], id)
    if was[2] ~= '' then redis.call('SREM', p .. 'pi:requester:' .. was[2], id) end
    if was[3] ~= '' then
      for _, name in ipairs(split(was[3], ',')) do redis.call('SREM', p .. 'pi:to:' .. name, id) end
    end
  end
  if status ~= 'pending' then
    if old then redis.call('HDEL', key, 'pi') end
    redis.call('ZREM', p .. 'watch:reminders', id)
    redis.call('ZREM', p .. 'watch:escalations', id)
    return
  end
  local record = cjson.decode(json)
  local channel = record['channel_id']
  if type(channel) ~= 'string' then channel = '' end
  local requester = ''
  local who = record['requester']
  if type(who) == 'table' and who['kind'] == 'slack' and type(who['id']) == 'string' then
    requester = who['id']
  end
  local told, seen = {}, {}
  local levels = record['escalations']
  if type(levels) == 'table' then
    for _, level in ipairs(levels) do
      local names = level['to']
      if type(names) ~= 'table' or #names == 0 then names = {'"""
    + ADMINS
    + """'} end
      for _, name in ipairs(names) do
        if not seen[name] then
          seen[name] = true
          told[#told + 1] = name
        end
      end
    end
  end
  redis.call('SADD', p .. 'pi:channel:' .. channel, id)
  redis.call('SADD', p .. 'pi:channels', channel)
  if requester ~= '' then redis.call('SADD', p .. 'pi:requester:' .. requester, id) end
  for _, name in ipairs(told) do
    redis.call('SADD', p .. 'pi:to:' .. name, id)
    redis.call('SADD', p .. 'pi:recipients', name)
  end
  redis.call('HSET', key, 'pi', channel .. '\\t' .. requester .. '\\t' .. table.concat(told, ','))
  if not old then
    redis.call('ZADD', p .. 'watch:reminders', 'NX', adopted, id)
    redis.call('ZADD', p .. 'watch:escalations', 'NX', adopted, id)
  end
end
"""
)

# ARGV: prefix, then ids. Indexes approvals stored before the index existed.
REINDEX = (
    PINDEX
    + """
local p = ARGV[1]
for i = 2, #ARGV do
  local id = ARGV[i]
  local h = redis.call('HMGET', p .. 'approval:' .. id, 'json', 'status')
  local adopted = redis.call('ZSCORE', p .. 'approvals', id)
  if h[1] and adopted then pindex(p, id, h[1], h[2], adopted) end
end
return 1
"""
)

# ARGV: prefix, then ids. "id status version due-score-or-empty" per line, as the store's
# listing (bot/store/redis_scripts.py STAMP_LISTING), for the ids still stored.
STAMP_IDS = """
local p = ARGV[1]
local lines = {}
for i = 2, #ARGV do
  local id = ARGV[i]
  local h = redis.call('HMGET', p .. 'approval:' .. id, 'status', 'version')
  if h[1] then
    local due = redis.call('ZSCORE', p .. 'due', id) or ''
    lines[#lines + 1] = id .. ' ' .. h[1] .. ' ' .. h[2] .. ' ' .. due
  end
end
return table.concat(lines, '\\n')
"""

# ARGV: prefix, watch, then id, score ('' to take it off the watch) pairs; pending ones only.
SET_WATCHES = """
local p = ARGV[1]
local key = p .. 'watch:' .. ARGV[2]
for i = 3, #ARGV, 2 do
  local id = ARGV[i]
  if redis.call('HEXISTS', p .. 'approval:' .. id, 'pi') == 1 then
    if ARGV[i + 1] == '' then
      redis.call('ZREM', key, id)
    else
      redis.call('ZADD', key, ARGV[i + 1], id)
    end
  end
end
return 1
"""

# ARGV: prefix, a set-of-names key suffix, the per-name key prefix. The names whose set
# still holds some pending approval.
LIVE_NAMES = """
local p = ARGV[1]
local out = {}
for _, name in ipairs(redis.call('SMEMBERS', p .. ARGV[2])) do
  if redis.call('SCARD', p .. ARGV[3] .. name) > 0 then out[#out + 1] = name end
end
return out
"""
