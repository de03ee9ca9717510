import type { Cluster, Redis } from "ioredis";
import type { KeyValueStore } from "./store.js";
import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { type HealthBySlot, isOutage } from "../limiters/redis-health.js";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis client, single or Cluster (see createRedisClient). */
  readonly client: Redis | Cluster;
  /** Prepended to every key; keeps deployments sharing one Redis apart. Default "kv:". */
  readonly keyPrefix?: string;
  /** Longest a command waits for Redis before the call ends with UNAVAILABLE, in ms. Default: the client's own command timeout. */
  readonly timeoutMs?: number;
  /**
   * The breaker(s) of the same client, a RedisTokenBucket's `health` say: while it knows the
   * Redis (the shard) of a key is out, commands on that key end with UNAVAILABLE at once
   * instead of waiting, and each outcome is reported to it. Default none.
   */
  readonly health?: HealthBySlot;
}

class RedisTimeout extends Error {
  override readonly name = "RedisTimeout";
}

/**
 * The KeyValue service's data in Redis, one string key per entry, so that every process pointed
 * at the same Redis serves one data set (bin/node's `KV_STORE=redis`). Unlike rate limits, data
 * has no in-memory stand-in: when Redis fails, the call ends with UNAVAILABLE (the error is its
 * `cause`, never sent), within `timeoutMs`, or at once while `health` knows Redis is out.
 * bin/node shares one client and its breakers between this store and the rate limiter, whose
 * RedisHealth logs the outage once.
 *
 * @example
 *   app.handle(router([keyValueService(new RedisStore({ client, keyPrefix: "myapp:kv:" }))]));
 */
export class RedisStore implements KeyValueStore {
  readonly keyPrefix: string;
  readonly #client: Redis | Cluster;
  readonly #timeoutMs: number | undefined;
  readonly #health: HealthBySlot | undefined;

  constructor(options: RedisStoreOptions) {
    if (options.client === null || typeof options.client !== "object" || typeof options.client.get !== "function") throw new TypeError("RedisStore: client must be an ioredis Redis or Cluster");
    const { timeoutMs } = options;
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) throw new RangeError(`RedisStore: timeoutMs must be a number > 0, got ${timeoutMs}`);
    this.#client = options.client;
    this.keyPrefix = options.keyPrefix ?? "kv:";
    this.#timeoutMs = timeoutMs;
    this.#health = options.health;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#command(key, (redisKey) => this.#client.get(redisKey))) ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#command(key, (redisKey) => this.#client.set(redisKey, value));
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#command(key, (redisKey) => this.#client.del(redisKey))) > 0;
  }

  /** `send` on `key`'s Redis key, within the deadline and past the breaker; any failure is UNAVAILABLE. */
  async #command<T>(key: string, send: (redisKey: string) => Promise<T>): Promise<T> {
    const redisKey = this.keyPrefix + key;
    const health = this.#health?.healthOf(this.#health.slotOf(redisKey));
    if (health !== undefined && !health.shouldTry()) throw unavailable(new Error("Redis is out (its breaker is open)"));
    let timer: NodeJS.Timeout | undefined;
    try {
      const reply = send(redisKey);
      const result = this.#timeoutMs === undefined
        ? await reply
        : await Promise.race([reply, new Promise<never>((_, reject) => (timer = setTimeout(reject, this.#timeoutMs, new RedisTimeout(`Redis did not answer within ${this.#timeoutMs} ms`))))]);
      health?.succeeded();
      return result;
    } catch (error) {
      if (health !== undefined && isOutage(error)) health.failed(error);
      throw unavailable(error);
    } finally {
      clearTimeout(timer);
    }
  }
}

function unavailable(cause: unknown): StatusError {
  return new StatusError(Status.UNAVAILABLE, "key-value store unavailable", { cause });
}
