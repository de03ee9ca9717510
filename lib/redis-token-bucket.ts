import type { Cluster, Redis } from "ioredis";
import RateLimiterCompatibleAbstract from "rate-limiter-flexible/lib/RateLimiterCompatibleAbstract.js";
import RateLimiterRes from "rate-limiter-flexible/lib/RateLimiterRes.js";
import type { Logger } from "./logger.js";
import { RedisHealth } from "./redis-health.js";
import { TokenBucket } from "./token-bucket.js";

/** Options of {@link RedisTokenBucket}. */
export interface RedisTokenBucketOptions {
  /** An ioredis client, single or Cluster; best made by createRedisClient (fail-fast settings). */
  readonly client: Redis | Cluster;
  /** Tokens a bucket holds when full: the largest burst. Default 10. */
  readonly capacity?: number;
  /** Tokens added per second, continuously. Default 10. 0 means never refilled. */
  readonly refillPerSecond?: number;
  /** Prepended to every key; keeps deployments sharing one Redis apart. Default "rl:". */
  readonly keyPrefix?: string;
  /** Longest a call waits for Redis before the insurance limiter answers it, in ms. Default 100. */
  readonly timeoutMs?: number;
  /** Answers while Redis cannot. Default a {@link TokenBucket} of the same capacity and refill. */
  readonly insuranceLimiter?: RateLimiterCompatibleAbstract;
  /** While Redis is down, one call per this many ms is sent to it to see if it is back. Default 250. */
  readonly probeEveryMs?: number;
  /** Where "Redis lost" / "Redis back" go, one line per change. Default: nowhere. */
  readonly logger?: Pick<Logger, "info" | "warn">;
}

type Op = "consume" | "penalty" | "reward" | "set" | "block" | "get";

/** The reply of the script: [taken (1/0), remaining, ms before next (-1: never), consumed, first (1/0)], or null. */
type Reply = [number, number, number, number, number] | null;

/** What defineCommand adds to the client. */
interface ScriptClient {
  rpcTokenBucket(key: string, op: Op, capacity: string, perMs: string, points: string): Promise<Reply>;
}

const SCRIPT = "rpcTokenBucket";

/**
 * The token bucket of lib/token-bucket.ts, atomically in Redis. State is a hash {tokens, at}
 * (at in ms of Redis's own clock, so node clocks never matter) that expires when the bucket
 * would be full again, which is the same as no bucket. Numbers are stored with %.17g so that
 * they read back exactly. Replies are integers, as Redis truncates Lua numbers.
 */
const LUA = `
if redis.replicate_commands then redis.replicate_commands() end
local op, capacity, perMs, points = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local eps = 1e-9
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + tonumber(time[2]) / 1000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
local first = 0
if tokens == nil then
  if op == 'get' then return false end
  tokens, first = capacity, 1
elseif now > at then
  tokens = math.min(capacity, tokens + (now - at) * perMs)
end
if op == 'consume' and tokens + eps < points then
  local wait = -1
  if perMs > 0 then wait = math.ceil((points - tokens) / perMs) end
  return {0, 0, wait, math.max(0, math.ceil(capacity - tokens - eps)), first}
end
if op == 'consume' or op == 'penalty' then tokens = tokens - points
elseif op == 'reward' then tokens = math.min(capacity, tokens + points)
elseif op == 'set' then tokens = capacity - points
elseif op == 'block' then tokens = -points * 1000 * perMs
end
local missing = capacity - tokens
local toFull = 0
if missing > eps then
  toFull = -1
  if perMs > 0 then toFull = math.ceil(missing / perMs) end
end
if op ~= 'get' then
  if toFull == 0 then
    redis.call('DEL', KEYS[1])
  else
    redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', string.format('%.17g', now))
    if toFull > 0 then redis.call('PEXPIRE', KEYS[1], toFull) else redis.call('PERSIST', KEYS[1]) end
  end
end
return {1, math.max(0, math.floor(tokens + eps)), toFull, math.max(0, math.ceil(missing - eps)), first}
`;

class RedisTimeout extends Error {
  override readonly name = "RedisTimeout";
}

/**
 * A token bucket per key shared by every process that points at the same Redis (or Redis
 * Cluster): exact across a fleet, one Lua script per call, with rate-limiter-flexible's API
 * and result shapes, so the rateLimit middleware treats it like {@link TokenBucket}: `consume`
 * resolves with a RateLimiterRes (`msBeforeNext`: ms until full) or rejects with one
 * (`msBeforeNext`: ms until the points are there; Infinity when never refilled).
 *
 * Each client's state is one key, `${keyPrefix}{${client}}`: the hash tag puts it on one
 * Cluster slot, and clients spread over every shard.
 *
 * Fail safe (issue #3): when Redis is down, unreachable or does not answer within `timeoutMs`,
 * the call is answered by `insuranceLimiter`, an in-memory bucket of this process (so during an
 * outage each node admits up to the full limit); a {@link RedisHealth} then skips Redis, probing
 * it now and then, until it answers again. The state changes are logged, once each.
 *
 * @example
 *   const client = await createRedisClient({ url: "redis://127.0.0.1:6379" });
 *   app.use(rateLimit({ limiter: new RedisTokenBucket({ client, capacity: 20, refillPerSecond: 5, logger }) }));
 */
export class RedisTokenBucket extends RateLimiterCompatibleAbstract {
  override readonly keyPrefix: string;
  override blockDuration = 0;
  override execEvenly = false;
  readonly capacity: number;
  readonly refillPerSecond: number;
  readonly insuranceLimiter: RateLimiterCompatibleAbstract;
  readonly health: RedisHealth;
  readonly #client: Redis | Cluster;
  readonly #script: ScriptClient;
  readonly #capacity: string;
  readonly #perMs: string;
  readonly #timeoutMs: number;

  constructor(options: RedisTokenBucketOptions) {
    super();
    const { client, capacity = 10, refillPerSecond = 10, keyPrefix = "rl:", timeoutMs = 100, probeEveryMs = 250 } = options;
    if (client === null || typeof client !== "object" || typeof client.defineCommand !== "function") throw new TypeError("RedisTokenBucket: client must be an ioredis Redis or Cluster");
    if (!Number.isFinite(capacity) || capacity < 1) throw new RangeError(`RedisTokenBucket: capacity must be a number >= 1, got ${capacity}`);
    if (!Number.isFinite(refillPerSecond) || refillPerSecond < 0) throw new RangeError(`RedisTokenBucket: refillPerSecond must be a number >= 0, got ${refillPerSecond}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`RedisTokenBucket: timeoutMs must be a number > 0, got ${timeoutMs}`);
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.keyPrefix = keyPrefix;
    this.insuranceLimiter = options.insuranceLimiter ?? new TokenBucket({ capacity, refillPerSecond, keyPrefix });
    this.#client = client;
    this.#capacity = String(capacity);
    this.#perMs = String(refillPerSecond / 1000);
    this.#timeoutMs = timeoutMs;
    client.defineCommand(SCRIPT, { numberOfKeys: 1, lua: LUA });
    this.#script = client as unknown as ScriptClient;
    this.health = new RedisHealth({ probeEveryMs, ...(options.logger === undefined ? {} : { logger: options.logger }) }).watch(client);
  }

  /** The Redis key of `key`'s bucket. */
  keyOf(key: string | number): string {
    return `${this.keyPrefix}{${key}}`;
  }

  /** Takes `points` tokens from `key`'s bucket, or rejects with a RateLimiterRes without taking any. */
  override consume(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run("consume", key, points, () => this.insuranceLimiter.consume(key, points));
  }

  /** Takes `points` tokens whether or not they are there (the bucket may go negative). */
  override penalty(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run("penalty", key, points, () => this.insuranceLimiter.penalty(key, points));
  }

  /** Gives `points` tokens back, up to capacity. */
  override reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run("reward", key, points, () => this.insuranceLimiter.reward(key, points));
  }

  /** The state of `key`'s bucket, or null when it is full (never used or idle long enough). */
  override get(key: string | number): Promise<RateLimiterRes | null> {
    return this.#run("get", key, 0, () => this.insuranceLimiter.get(key));
  }

  /** Sets how many points `key` has consumed (capacity minus its tokens); `secDuration` is unused. */
  override set(key: string | number, points: number, _secDuration?: number): Promise<RateLimiterRes> {
    return this.#run("set", key, points, () => this.insuranceLimiter.set(key, points, 0));
  }

  /** Empties `key`'s bucket and holds it empty for `secDuration` seconds before it refills. */
  override block(key: string | number, secDuration: number): Promise<RateLimiterRes> {
    return this.#run("block", key, secDuration, () => this.insuranceLimiter.block(key, secDuration));
  }

  /** Forgets `key`'s bucket (it is full again); resolves to whether there was one. Rejects when Redis fails. */
  override async delete(key: string | number): Promise<boolean> {
    const [inRedis, inMemory] = await Promise.all([this.#client.del(this.keyOf(key)), this.insuranceLimiter.delete(key)]);
    return inRedis > 0 || inMemory;
  }

  #run<T extends RateLimiterRes | null>(op: Op, key: string | number, points: number, insurance: () => Promise<T>): Promise<T> {
    if (!this.health.shouldTry()) return insurance();
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const fallBack = (error: unknown): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.health.failed(error);
        insurance().then(resolve, reject);
      };
      // The deadline bounds everything the client might do meanwhile (a Cluster retrying across
      // a failover, say). It is checked a loop turn late, after pending I/O has been read, so
      // that a process starved of CPU for a moment does not take a reply that has arrived for a
      // timeout: that would answer from the insurance bucket, which is not shared.
      const timer = setTimeout(() => setImmediate(fallBack, new RedisTimeout(`Redis did not answer within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      this.#script.rpcTokenBucket(this.keyOf(key), op, this.#capacity, this.#perMs, String(points)).then((reply) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.health.succeeded();
        if (reply === null) return resolve(null as T);
        const [taken, remaining, msBeforeNext, consumed, first] = reply;
        const res = new RateLimiterRes(remaining, msBeforeNext < 0 ? Infinity : msBeforeNext, consumed, first === 1);
        if (taken === 1) resolve(res as T);
        else reject(res);
      }, fallBack);
    });
  }
}
