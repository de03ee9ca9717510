import type { Cluster, Redis } from "ioredis";
import { RateLimiterCompatibleAbstract, type RateLimiterRes } from "./rate-limiter-flexible.js";
import type { Logger } from "../logging/logger.js";
import { bucketKey } from "./bucket-key.js";
import { type BucketOptions, bucketSettings } from "./bucket-options.js";
import { ClusterHealth } from "./cluster-health.js";
import { type BatchedCall, RedisBatcher } from "./redis-batcher.js";
import { RedisHealth } from "./redis-health.js";
import { TokenBucket } from "./token-bucket.js";
import { answer, type BucketOp, replyIntegers, type ScriptCall, scriptArguments } from "./token-bucket-codec.js";
import { TOKEN_BUCKET_SCRIPT, TOKEN_BUCKET_SCRIPT_SHA } from "./token-bucket-script.js";

/** Options of {@link RedisTokenBucket}. */
export interface RedisTokenBucketOptions extends BucketOptions {
  /** An ioredis client, single or Cluster; best made by createRedisClient (fail-fast settings). */
  readonly client: Redis | Cluster;
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

/** Redis's "this script is not in my cache" (a restarted server, a new Cluster master). */
const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith("NOSCRIPT");

/** One call waiting for its batch: what to ask Redis, and how to answer the caller. */
class Call implements BatchedCall, ScriptCall {
  resolve!: (value: RateLimiterRes | boolean | null) => void;
  reject!: (reason: unknown) => void;
  constructor(
    readonly op: BucketOp,
    /** The caller's key, for the insurance bucket. */
    readonly id: string | number,
    /** The Redis key. */
    readonly key: string,
    /** The key's Cluster slot; 0 for a single Redis. */
    readonly slot: number,
    readonly points: number,
  ) {}
}

/** The call being queued; {@link adopt} hands it its promise's functions. */
let adopting: Call;
/**
 * The executor of every call's promise: one function for all, where a closure per call would
 * be one more allocation per call on the hot path. Only RedisTokenBucket's queueing sets
 * {@link adopting}, right before `new Promise(adopt)`, which runs it synchronously.
 */
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
 * Each client's state is one key, `${keyPrefix}{${client}}` (an id that is not printable ASCII
 * without braces is encoded: see {@link bucketKey}): the hash tag puts it on one Cluster slot,
 * and clients spread over every shard.
 *
 * The calls of one event-loop turn share one Lua script run (a {@link RedisBatcher}; one per
 * slot on a Cluster, `maxBatch` calls at most), one deadline and one Redis round trip, in the
 * order they were made; each is answered as if it had run alone.
 *
 * Fail safe: when Redis is down, unreachable or does not answer a batch within
 * `timeoutMs`, each call of the batch is answered by `insuranceLimiter`, an in-memory bucket of
 * this process (so during an outage each process admits up to the full limit); a
 * {@link RedisHealth} then skips Redis, probing it now and then, until it answers again. On a
 * Cluster there is one per shard ({@link ClusterHealth}): a dead master sends only the clients
 * of its slots to the insurance bucket. The state changes are logged, once each. A batch that
 * Redis refuses for its keys (not an outage) falls back alone and leaves the breaker closed.
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
  /** The breaker(s) deciding whether a call tries Redis: a RedisHealth, or one per shard on a Cluster. */
  readonly health: RedisHealth | ClusterHealth;
  readonly #client: Redis | Cluster;
  readonly #batcher: RedisBatcher<Call, number[]>;
  readonly #capacity: string;
  readonly #perMs: string;

  constructor(options: RedisTokenBucketOptions) {
    super();
    const { client, keyPrefix = "rl:", timeoutMs = 100, probeEveryMs = 250, maxBatch = 1000 } = options;
    if (client === null || typeof client !== "object" || typeof client.evalsha !== "function") throw new TypeError("RedisTokenBucket: client must be an ioredis Redis or Cluster");
    const { capacity, refillPerSecond } = bucketSettings("RedisTokenBucket", options);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`RedisTokenBucket: timeoutMs must be a number > 0, got ${timeoutMs}`);
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`RedisTokenBucket: maxBatch must be an integer >= 1, got ${maxBatch}`);
    this.capacity = capacity;
    this.refillPerSecond = refillPerSecond;
    this.keyPrefix = keyPrefix;
    this.insuranceLimiter = options.insuranceLimiter ?? new TokenBucket({ capacity, refillPerSecond, keyPrefix });
    this.#capacity = String(capacity);
    this.#perMs = String(refillPerSecond / 1000);
    this.#client = client;
    const healthOptions = { probeEveryMs, ...(options.logger === undefined ? {} : { logger: options.logger }) };
    this.health = client.isCluster ? new ClusterHealth(client as Cluster, healthOptions) : new RedisHealth(healthOptions).watch(client);
    this.#batcher = new RedisBatcher<Call, number[]>({ client, health: this.health, timeoutMs, maxBatch, send: this.#send, answer, fallBack: this.#fallBack });
  }

  /** The Redis key of `key`'s bucket. */
  keyOf(key: string | number): string {
    return bucketKey(this.keyPrefix, key);
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
    const redisKey = bucketKey(this.keyPrefix, key);
    const inRedis = this.#queue("delete", key, redisKey, this.health.slotOf(redisKey), 0) as Promise<boolean>;
    const [fromRedis, inMemory] = await Promise.all([inRedis, this.insuranceLimiter.delete(key)]);
    return fromRedis || inMemory;
  }

  /** `op` on `key` in Redis with the calls of this turn, or from the insurance bucket while Redis is skipped. */
  #run(op: BucketOp, id: string | number, points: number): Promise<RateLimiterRes | boolean | null> {
    const key = bucketKey(this.keyPrefix, id);
    const slot = this.health.slotOf(key);
    if (!this.health.healthOf(slot).shouldTry()) return this.#insurance(op, id, points);
    return this.#queue(op, id, key, slot, points);
  }

  #queue(op: BucketOp, id: string | number, key: string, slot: number, points: number): Promise<RateLimiterRes | boolean | null> {
    const call = new Call(op, id, key, slot, points);
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
    const args = scriptArguments(calls, this.#capacity, this.#perMs);
    const client = this.#client;
    const reply = client.evalsha(TOKEN_BUCKET_SCRIPT_SHA, n, ...args).catch((error: unknown) => {
      if (!isNoScript(error)) throw error;
      return client.eval(TOKEN_BUCKET_SCRIPT, n, ...args);
    });
    return reply.then((text) => replyIntegers(String(text), n));
  };

  readonly #fallBack = (call: Call, error: unknown): void => {
    if (call.op === "delete") return call.reject(error);
    this.#insurance(call.op, call.id, call.points).then(call.resolve, call.reject);
  };

  #insurance(op: BucketOp, key: string | number, points: number): Promise<RateLimiterRes | boolean | null> {
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
