import { createHash } from "node:crypto";

/**
 * The Lua scripts of RedisStore: each write keeps the data key, the key index (a sorted set
 * whose members all have score 0, so Redis orders them by their bytes: UTF-8 byte order) and
 * the change channel in step, atomically, so that Scan sees what Get sees and a Watch hears the
 * changes in the order Redis applied them. KEYS are the data key and the index, which share a
 * slot on a Cluster; so does the channel, where the change goes out with SPUBLISH (sharded
 * pub/sub: only that shard carries it); a single Redis uses PUBLISH. The command is an argument.
 *
 * A change message is `p` (put) or `d` (delete), the key's length in bytes, `:`, the key, then
 * the value (empty for a delete): the key needs no escaping and the value no decoding pass.
 *
 * TypeScript modules rather than .lua files: tsc does not copy .lua files into dist/.
 */
export interface RedisScript {
  readonly source: string;
  readonly sha: string;
}

function script(source: string): RedisScript {
  return { source, sha: createHash("sha1").update(source).digest("hex") };
}

/** Put. KEYS: data key, index. ARGV: value, key, channel, PUBLISH or SPUBLISH. */
export const PUT_SCRIPT = script(`
redis.call('SET', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], 0, ARGV[2])
redis.call(ARGV[4], ARGV[3], 'p' .. #ARGV[2] .. ':' .. ARGV[2] .. ARGV[1])
return 1
`);

/**
 * Delete. KEYS: data key, index. ARGV: key, channel, PUBLISH or SPUBLISH, "1" when the caller
 * removed a copy of the key elsewhere already (a Cluster's pre-index key). Returns 1 when a
 * value was removed, which is then published.
 */
export const DELETE_SCRIPT = script(`
local removed = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if removed == 0 and ARGV[4] ~= '1' then return 0 end
redis.call(ARGV[3], ARGV[2], 'd' .. #ARGV[1] .. ':' .. ARGV[1])
return 1
`);

/**
 * One page of a Scan. KEYS: index. ARGV: where to start (a ZRANGEBYLEX bound, `[prefix` or
 * `(last key`), how many keys, the data keys' prefix. Returns key, value, key, value, ...; a
 * value is nil for a key deleted by a write that has not reached the index (none: writes are
 * atomic) or removed outside the store, and the reader skips it.
 */
export const SCAN_PAGE_SCRIPT = script(`
local keys = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], '+', 'LIMIT', 0, tonumber(ARGV[2]))
local reply = {}
for i, key in ipairs(keys) do
  reply[2 * i - 1] = key
  reply[2 * i] = redis.call('GET', ARGV[3] .. key)
end
return reply
`);

/**
 * Adds keys written without an index to it. KEYS: index. ARGV: the data keys' prefix, then the
 * keys; a key is added only if its data key holds a string still. Returns how many were added.
 */
export const BACKFILL_SCRIPT = script(`
local added = 0
for i = 2, #ARGV do
  if redis.call('TYPE', ARGV[1] .. ARGV[i]).ok == 'string' then
    added = added + redis.call('ZADD', KEYS[1], 'NX', 0, ARGV[i])
  end
end
return added
`);
