import { createHash } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import RateLimiterCompatibleAbstract from "rate-limiter-flexible/lib/RateLimiterCompatibleAbstract.js";
import RateLimiterRes from "rate-limiter-flexible/lib/RateLimiterRes.js";
import type { Logger } from "../logging/logger.js";
import { type BatchedCall, RedisBatcher } from "./redis-batcher.js";
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
  /** Calls per script run at most; the calls of one turn beyond it go in further runs. Default 1000. */
  readonly maxBatch?: number;
  /** Where "Redis lost" / "Redis back" go, one line per change. Default: nowhere. */
  readonly logger?: Pick<Logger, "info" | "warn">;
}

type Op = "consume" | "penalty" | "reward" | "set" | "block" | "get" | "delete";

/** Each op as the one character the script reads. */
const OP_CODE: Readonly<Record<Op, string>> = { consume: "c", penalty: "p", reward: "r", set: "s", block: "b", get: "g", delete: "d" };

/**
 * The token bucket of lib/token-bucket.ts, atomically in Redis, for every key of a batch in
 * turn (so a key twice in one batch sees its own first call). ARGV: capacity, tokens per ms,
 * one op character per key, and the points per key separated by spaces (4 arguments however
 * long the batch: each argument costs both sides more than its bytes).
 *
 * State is a string "tokens at" (at in ms of Redis's own clock, read once per batch, so node
 * clocks never matter), numbers in %.17g so that they read back exactly, written with one
 * `SET ... PX` that expires it when the bucket would be full again, which is the same as no
 * bucket. A hash {tokens, at} left by an earlier version is read the same and replaced.
 *
 * The reply is one string, five integers per key: taken (1/0; -1: no bucket), remaining, ms
 * before next (-1: never), consumed, first (1/0); for delete, 1/0 for whether the key existed.
 * One string rather than an array of integers: the client reads it at once instead of number
 * by number (that decoding was a tenth of bin/node's CPU with Redis).
 */
const LUA = `
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

/** Integers per key in the script's reply. */
const REPLY_WIDTH = 5;

/** The script's SHA-1, as EVALSHA names it. */
const SHA = createHash("sha1").update(LUA).digest("hex");

/** Redis's "this script is not in my cache" (a restarted server, a new Cluster node). */
const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith("NOSCRIPT");

/** One call waiting for its batch: what to ask Redis, and how to answer the caller. */
class Call implements BatchedCall {
  resolve!: (value: RateLimiterRes | boolean | null) => void;
  reject!: (reason: unknown) => void;
  constructor(
    readonly op: Op,
    /** The caller's key, for the insurance bucket. */
    readonly id: string | number,
    /** The Redis key. */
    readonly key: string,
    readonly points: number,
  ) {}
}

/** The call being queued; {@link adopt} hands it its promise's functions. */
let adopting: Call;
/** The executor of every call's promise: one function for all, not a closure per call (issue 6). */
function adopt(resolve: Call["resolve"], reject: Call["reject"]): void {
  adopting.resolve = resolve;
  adopting.reject = reject;
}

/**
 * A token bucket per key shared by every process that points at the same Redis (or Redis
 * Cluster): exact across a fleet, with rate-limiter-flexible's API and result shapes, so the
 * rateLimit middleware treats it like {@link TokenBucket}: `consume` resolves with a
 * RateLimiterRes (`msBeforeNext`: ms until full) or rejects with one (`msBeforeNext`: ms until
 * the points are there; Infinity when never refilled).
 *
 * Each client's state is one key, `${keyPrefix}{${client}}`: the hash tag puts it on one
 * Cluster slot, and clients spread over every shard.
 *
 * The calls of one event-loop turn share one Lua script run (a {@link RedisBatcher}; one per
 * slot on a Cluster, `maxBatch` calls at most), one deadline and one Redis round trip, in the
 * order they were made; each is answered as if it had run alone (issue 6).
 *
 * Fail safe (issue #3): when Redis is down, unreachable or does not answer a batch within
 * `timeoutMs`, each call of the batch is answered by `insuranceLimiter`, an in-memory bucket of
 * this process (so during an outage each node admits up to the full limit); a
 * {@link RedisHealth} then skips Redis, probing it now and then, until it answers again. The
 * state changes are logged, once each.
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
  readonly #batcher: RedisBatcher<Call, number[]>;
  readonly #capacity: string;
  readonly #perMs: string;

  constructor(options: RedisTokenBucketOptions) {
    super();
    const { client, capacity = 10, refillPerSecond = 10, keyPrefix = "rl:", timeoutMs = 100, probeEveryMs = 250, maxBatch = 1000 } = options;
    if (client === null || typeof client !== "object" || typeof client.evalsha !== "function") throw new TypeError("RedisTokenBucket: client must be an ioredis Redis or Cluster");
    if (!Number.isFinite(capacity) || capacity < 1) throw new RangeError(`RedisTokenBucket: capacity must be a number >= 1, got ${capacity}`);
    if (!Number.isFinite(refillPerSecond) || refillPerSecond < 0) throw new RangeError(`RedisTokenBucket: refillPerSecond must be a number >= 0, got ${refillPerSecond}`);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`RedisTokenBucket: timeoutMs must be a number > 0, got ${timeoutMs}`);
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`RedisTokenBucket: maxBatch must be an integer >= 1, got ${maxBatch}`);
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.keyPrefix = keyPrefix;
    this.insuranceLimiter = options.insuranceLimiter ?? new TokenBucket({ capacity, refillPerSecond, keyPrefix });
    this.#capacity = String(capacity);
    this.#perMs = String(refillPerSecond / 1000);
    this.#client = client;
    this.health = new RedisHealth({ probeEveryMs, ...(options.logger === undefined ? {} : { logger: options.logger }) }).watch(client);
    this.#batcher = new RedisBatcher<Call, number[]>({ client, health: this.health, timeoutMs, maxBatch, send: this.#send, answer, fallBack: this.#fallBack });
  }

  /** The Redis key of `key`'s bucket. */
  keyOf(key: string | number): string {
    return `${this.keyPrefix}{${key}}`;
  }

  /** Takes `points` tokens from `key`'s bucket, or rejects with a RateLimiterRes without taking any. */
  override consume(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run("consume", key, points) as Promise<RateLimiterRes>;
  }

  /** Takes `points` tokens whether or not they are there (the bucket may go negative). */
  override penalty(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run("penalty", key, points) as Promise<RateLimiterRes>;
  }

  /** Gives `points` tokens back, up to capacity. */
  override reward(key: string | number, points = 1): Promise<RateLimiterRes> {
    return this.#run("reward", key, points) as Promise<RateLimiterRes>;
  }

  /** The state of `key`'s bucket, or null when it is full (never used or idle long enough). */
  override get(key: string | number): Promise<RateLimiterRes | null> {
    return this.#run("get", key, 0) as Promise<RateLimiterRes | null>;
  }

  /** Sets how many points `key` has consumed (capacity minus its tokens); `secDuration` is unused. */
  override set(key: string | number, points: number, _secDuration?: number): Promise<RateLimiterRes> {
    return this.#run("set", key, points) as Promise<RateLimiterRes>;
  }

  /** Empties `key`'s bucket and holds it empty for `secDuration` seconds before it refills. */
  override block(key: string | number, secDuration: number): Promise<RateLimiterRes> {
    return this.#run("block", key, secDuration) as Promise<RateLimiterRes>;
  }

  /**
   * Forgets `key`'s bucket (it is full again); resolves to whether there was one. Rejects when
   * Redis fails. Goes through the batch like the rest, so that it keeps its place among the
   * calls of its turn.
   */
  override async delete(key: string | number): Promise<boolean> {
    const [inRedis, inMemory] = await Promise.all([this.#queue("delete", key, 0) as Promise<boolean>, this.insuranceLimiter.delete(key)]);
    return inRedis || inMemory;
  }

  /** `op` on `key` in Redis with the calls of this turn, or from the insurance bucket while Redis is skipped. */
  #run(op: Op, key: string | number, points: number): Promise<RateLimiterRes | boolean | null> {
    if (!this.health.shouldTry()) return this.#insurance(op, key, points);
    return this.#queue(op, key, points);
  }

  #queue(op: Op, key: string | number, points: number): Promise<RateLimiterRes | boolean | null> {
    const call = new Call(op, key, this.keyOf(key), points);
    adopting = call;
    const promise = new Promise(adopt);
    this.#batcher.add(call);
    return promise;
  }

  /**
   * One EVALSHA for the batch, KEYS the calls' keys, ARGV as the script reads it. Not ioredis's
   * defineCommand: its command with a variable number of keys is routed by its first argument,
   * the number of keys, which on a Cluster auto-pipelines batches of other slots together (and
   * Redis refuses the pipeline); EVALSHA is routed by its first key. A Redis without the script
   * in its cache gets it once with EVAL.
   */
  readonly #send = (calls: readonly Call[]): Promise<number[]> => {
    const n = calls.length;
    const args = new Array<string>(n + 4);
    const ops = new Array<string>(n);
    const points = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const call = calls[i]!;
      args[i] = call.key;
      ops[i] = OP_CODE[call.op];
      points[i] = call.points;
    }
    args[n] = this.#capacity;
    args[n + 1] = this.#perMs;
    args[n + 2] = ops.join("");
    args[n + 3] = points.join(" ");
    const client = this.#client;
    const reply = client.evalsha(SHA, n, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return client.eval(LUA, n, ...args);
    });
    return reply.then((text) => {
      const numbers = integers(String(text));
      // Not the script's answer (another script under its SHA?): the batch fails, and falls back.
      if (numbers.length !== n * REPLY_WIDTH) throw new Error(`RedisTokenBucket: the script answered ${numbers.length} numbers for ${n} calls`);
      return numbers;
    });
  };

  readonly #fallBack = (call: Call, error: unknown): void => {
    if (call.op === "delete") return call.reject(error);
    this.#insurance(call.op, call.id, call.points).then(call.resolve, call.reject);
  };

  #insurance(op: Op, key: string | number, points: number): Promise<RateLimiterRes | boolean | null> {
    const insurance = this.insuranceLimiter;
    switch (op) {
      case "consume": return insurance.consume(key, points);
      case "penalty": return insurance.penalty(key, points);
      case "reward": return insurance.reward(key, points);
      case "get": return insurance.get(key);
      case "set": return insurance.set(key, points, 0);
      case "block": return insurance.block(key, points);
      case "delete": return insurance.delete(key);
    }
  }
}

/**
 * The integers of the script's reply, read without a string per number. Only integers are in
 * it; beyond 2^53 they are as exact as a double can be, like any number in JavaScript.
 */
function integers(reply: string): number[] {
  const numbers: number[] = [];
  const end = reply.length;
  for (let at = 0; at < end; at++) {
    const negative = reply.charCodeAt(at) === 45; // "-"
    if (negative) at++;
    let value = 0;
    for (let c = reply.charCodeAt(at); c >= 48 && c <= 57; c = reply.charCodeAt(++at)) value = value * 10 + (c - 48);
    numbers.push(negative ? -value : value);
  }
  return numbers;
}

/** Answers `call`, the `index`th of its batch, from the integers of the script's reply. */
function answer(call: Call, reply: readonly number[], index: number): void {
  const at = index * REPLY_WIDTH;
  const taken = reply[at]!;
  if (call.op === "delete") return call.resolve(taken === 1);
  if (taken === -1) return call.resolve(null);
  const msBeforeNext = reply[at + 2]!;
  const res = new RateLimiterRes(reply[at + 1]!, msBeforeNext < 0 ? Infinity : msBeforeNext, reply[at + 3]!, reply[at + 4] === 1);
  if (taken === 1) call.resolve(res);
  else call.reject(res);
}
