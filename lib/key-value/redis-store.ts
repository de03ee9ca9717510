import type { Cluster, Redis } from "ioredis";
import type { KeyValueStore } from "./store.js";
import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis client, single or Cluster (see createRedisClient). */
  readonly client: Redis | Cluster;
  /** Prepended to every key; keeps deployments sharing one Redis apart. Default "kv:". */
  readonly keyPrefix?: string;
}

/**
 * The KeyValue service's data in Redis, one string key per entry, so that every process pointed
 * at the same Redis serves one data set (bin/node's `KV_STORE=redis`). Unlike rate limits, data
 * has no in-memory stand-in: when Redis fails, the call ends with UNAVAILABLE (the error is its
 * `cause`, never sent), within the client's command timeout. bin/node shares one client between
 * this store and the rate limiter, whose RedisHealth logs the outage once.
 *
 * @example
 *   app.handle(router([keyValueService(new RedisStore({ client, keyPrefix: "myapp:kv:" }))]));
 */
export class RedisStore implements KeyValueStore {
  readonly keyPrefix: string;
  readonly #client: Redis | Cluster;

  constructor(options: RedisStoreOptions) {
    if (options.client === null || typeof options.client !== "object" || typeof options.client.get !== "function") throw new TypeError("RedisStore: client must be an ioredis Redis or Cluster");
    this.#client = options.client;
    this.keyPrefix = options.keyPrefix ?? "kv:";
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.#client.get(this.keyPrefix + key)) ?? undefined;
    } catch (error) {
      throw unavailable(error);
    }
  }

  async set(key: string, value: string): Promise<void> {
    try {
      await this.#client.set(this.keyPrefix + key, value);
    } catch (error) {
      throw unavailable(error);
    }
  }

  async delete(key: string): Promise<boolean> {
    try {
      return (await this.#client.del(this.keyPrefix + key)) > 0;
    } catch (error) {
      throw unavailable(error);
    }
  }
}

function unavailable(cause: unknown): StatusError {
  return new StatusError(Status.UNAVAILABLE, "key-value store unavailable", { cause });
}
