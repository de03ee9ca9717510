import { createHash } from "node:crypto";

/**
 * The token bucket of TokenBucket, atomically in Redis, for every key of a batch in turn (so a
 * key twice in one batch sees its own first call). ARGV: capacity, tokens per ms, one op
 * character per key, and the points per key separated by spaces (4 arguments however long the
 * batch: each argument costs both sides more than its bytes). token-bucket-codec.ts writes the
 * arguments and reads the reply.
 *
 * State is a string "tokens at" (at in ms of Redis's own clock, read once per batch, so the
 * clocks of the processes sharing it never matter), numbers in %.17g so that they read back
 * exactly, written with one `SET ... PX` that expires it when the bucket would be full again,
 * which is the same as no bucket. A hash {tokens, at} is read the same and replaced.
 *
 * The reply is one string, five integers per key: taken (1/0; -1: no bucket), remaining, ms
 * before next (-1: never), consumed, first (1/0); for delete, 1/0 for whether the key existed.
 * One string rather than an array of integers: the client reads it at once instead of number
 * by number (measured: that decoding was a tenth of bin/node's CPU with Redis).
 *
 * A TypeScript module rather than a .lua file: tsc does not copy .lua files into dist/.
 */
export const TOKEN_BUCKET_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local capacity, perMs, ops = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local eps = 1e-9
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local nowText = ' ' .. string.format('%.17g', now)
local function state(key)
  local value = redis.pcall('GET', key)
  if type(value) == 'string' then
    local space = string.find(value, ' ', 1, true)
    return tonumber(string.sub(value, 1, space - 1)), tonumber(string.sub(value, space + 1))
  elseif type(value) == 'table' and value.err then
    local hash = redis.call('HMGET', key, 'tokens', 'at')
    return tonumber(hash[1]), tonumber(hash[2])
  end
  return nil, nil
end
local function bucket(key, op, points)
  if op == 'd' then return redis.call('DEL', key), 0, 0, 0, 0 end
  local tokens, at = state(key)
  local first = 0
  if tokens == nil then
    if op == 'g' then return -1, 0, 0, 0, 0 end
    tokens, first = capacity, 1
  elseif now > at then
    tokens = math.min(capacity, tokens + (now - at) * perMs)
  end
  if op == 'c' and tokens + eps < points then
    local wait = -1
    if perMs > 0 then wait = math.ceil((points - tokens) / perMs) end
    return 0, 0, wait, math.max(0, math.ceil(capacity - tokens - eps)), first
  end
  if op == 'c' or op == 'p' then tokens = tokens - points
  elseif op == 'r' then tokens = math.min(capacity, tokens + points)
  elseif op == 's' then tokens = capacity - points
  elseif op == 'b' then tokens = -points * 1000 * perMs
  end
  local missing = capacity - tokens
  local toFull = 0
  if missing > eps then
    toFull = -1
    if perMs > 0 then toFull = math.ceil(missing / perMs) end
  end
  if op ~= 'g' then
    if toFull == 0 then
      redis.call('DEL', key)
    elseif toFull > 0 then
      redis.call('SET', key, string.format('%.17g', tokens) .. nowText, 'PX', string.format('%d', toFull))
    else
      redis.call('SET', key, string.format('%.17g', tokens) .. nowText)
    end
  end
  return 1, math.max(0, math.floor(tokens + eps)), toFull, math.max(0, math.ceil(missing - eps)), first
end
local reply = {}
local i = 0
for points in string.gmatch(ARGV[4], '%S+') do
  i = i + 1
  reply[i] = string.format('%d %d %d %d %d', bucket(KEYS[i], string.sub(ops, i, i), tonumber(points)))
end
return table.concat(reply, ' ')
`;

/** The script's SHA-1, as EVALSHA names it. */
export const TOKEN_BUCKET_SCRIPT_SHA = createHash("sha1").update(TOKEN_BUCKET_SCRIPT).digest("hex");
