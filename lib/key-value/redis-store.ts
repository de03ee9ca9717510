import type { Cluster, Redis } from "ioredis";
import { ChangeFeed } from "./change-feed.js";
import { BACKFILL_SCRIPT, DELETE_SCRIPT, PUT_SCRIPT, type RedisScript, SCAN_PAGE_SCRIPT } from "./redis-store-scripts.js";
import type { Change, Entry, KeyValueStore } from "./store.js";
import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { type HealthBySlot, isOutage } from "../limiters/redis-health.js";

/** Options of {@link RedisStore}. */
export interface RedisStoreOptions {
  /** An ioredis client, single or Cluster (see createRedisClient). */
  readonly client: Redis | Cluster;
  /** Prepended to every key; keeps deployments sharing one Redis apart. No braces on a Cluster. Default "kv:". */
  readonly keyPrefix?: string;
  /** Longest a command waits for Redis before the call ends with UNAVAILABLE, in ms. Default: the client's own command timeout. */
  readonly timeoutMs?: number;
  /**
   * The breaker(s) of the same client, a RedisTokenBucket's `health` say: while it knows the
   * Redis (the shard) of a key is out, commands on that key end with UNAVAILABLE at once
   * instead of waiting, and each outcome is reported to it. Default none.
   */
  readonly health?: HealthBySlot;
  /** Keys a Scan reads from Redis per round trip. Default 256. */
  readonly scanPageSize?: number;
  /** Changes one watcher may have waiting before its Watch ends RESOURCE_EXHAUSTED. Default 1024. */
  readonly maxPendingChanges?: number;
}

class RedisTimeout extends Error {
  override readonly name = "RedisTimeout";
}

const isNoScript = (error: unknown): boolean => error instanceof Error && error.message.startsWith("NOSCRIPT");

/** A watcher: its prefix and its feed. */
interface Watcher {
  readonly prefix: string;
  readonly feed: ChangeFeed;
}

/**
 * The KeyValue service's data in Redis, so that every process pointed at the same Redis serves
 * one data set (bin/node's `KV_STORE=redis`). Unlike rate limits, data has no in-memory
 * stand-in: when Redis fails, the call ends with UNAVAILABLE (the error is its `cause`, never
 * sent), within `timeoutMs`, or at once while `health` knows Redis is out. bin/node shares one
 * client and its breakers between this store and the rate limiter, whose RedisHealth logs the
 * outage once.
 *
 * Keys (docs/redis.md, "Scan and Watch"): the sorted set `{keyPrefix}index` holds every key
 * (Scan pages through it), and every write is published on the channel `{keyPrefix}changes`
 * (Watch); one Lua script per write keeps value, index and channel in step. On a single Redis
 * each value is the string key `keyPrefix + key`, as it always was; on a Cluster it is
 * `{keyPrefix}:` + key, so that the whole store shares the slot of its hash tag (one shard holds
 * it), and a value written as `keyPrefix + key` before the index existed is still read, and
 * deleted, there.
 *
 * @example
 *   app.handle(router([keyValueService(new RedisStore({ client, keyPrefix: "myapp:kv:" }))]));
 *   // ... on shutdown, before closing the client: await store.close();
 */
export class RedisStore implements KeyValueStore {
  readonly keyPrefix: string;
  /** The sorted set of every key, for Scan. */
  readonly indexKey: string;
  /** The pub/sub channel of every change, for Watch. */
  readonly channel: string;
  readonly #client: Redis | Cluster;
  readonly #cluster: boolean;
  /** Prefix of the data keys: `keyPrefix` on a single Redis, `{keyPrefix}:` on a Cluster. */
  readonly #dataPrefix: string;
  /** PUBLISH on a single Redis; SPUBLISH (sharded pub/sub, Redis 7) on a Cluster. */
  readonly #publishCommand: "PUBLISH" | "SPUBLISH";
  readonly #timeoutMs: number | undefined;
  readonly #health: HealthBySlot | undefined;
  readonly #scanPageSize: number;
  readonly #maxPendingChanges: number | undefined;
  readonly #watchers = new Set<Watcher>();
  #subscriber: Redis | Cluster | undefined;
  /** The subscription, once asked for, until its connection drops: Watches share it. */
  #subscription: Promise<unknown> | undefined;
  #closed = false;

  constructor(options: RedisStoreOptions) {
    const { client, timeoutMs, scanPageSize = 256, maxPendingChanges } = options;
    if (client === null || typeof client !== "object" || typeof client.get !== "function") throw new TypeError("RedisStore: client must be an ioredis Redis or Cluster");
    if (timeoutMs !== undefined && (!Number.isFinite(timeoutMs) || timeoutMs <= 0)) throw new RangeError(`RedisStore: timeoutMs must be a number > 0, got ${timeoutMs}`);
    if (!Number.isInteger(scanPageSize) || scanPageSize < 1) throw new RangeError(`RedisStore: scanPageSize must be an integer >= 1, got ${scanPageSize}`);
    if (maxPendingChanges !== undefined && (!Number.isInteger(maxPendingChanges) || maxPendingChanges < 1)) throw new RangeError(`RedisStore: maxPendingChanges must be an integer >= 1, got ${maxPendingChanges}`);
    this.#client = client;
    this.#cluster = client.isCluster;
    this.keyPrefix = options.keyPrefix ?? "kv:";
    const namespace = `{${this.keyPrefix}}`;
    this.indexKey = `${namespace}index`;
    this.channel = `${namespace}changes`;
    this.#dataPrefix = this.#cluster ? `${namespace}:` : this.keyPrefix;
    this.#publishCommand = this.#cluster ? "SPUBLISH" : "PUBLISH";
    // A data key must never be the index: on a single Redis every key under keyPrefix is data.
    if (this.indexKey.startsWith(this.keyPrefix)) throw new RangeError(`RedisStore: keyPrefix ${JSON.stringify(this.keyPrefix)} would hold the store's own index key`);
    // On a Cluster the hash tag must be keyPrefix itself, so that the whole store has one slot.
    if (this.#cluster && /[{}]/.test(this.keyPrefix)) throw new RangeError(`RedisStore: keyPrefix must hold no braces on a Redis Cluster, got ${JSON.stringify(this.keyPrefix)}`);
    this.#timeoutMs = timeoutMs;
    this.#health = options.health;
    this.#scanPageSize = scanPageSize;
    this.#maxPendingChanges = maxPendingChanges;
  }

  async get(key: string): Promise<string | undefined> {
    const value = await this.#command(this.indexKey, () => this.#client.get(this.#dataPrefix + key));
    if (value !== null || !this.#cluster) return value ?? undefined;
    const legacyKey = this.keyPrefix + key;
    return (await this.#command(legacyKey, () => this.#client.get(legacyKey))) ?? undefined;
  }

  async set(key: string, value: string): Promise<void> {
    await this.#command(this.indexKey, () => this.#script(PUT_SCRIPT, [this.#dataPrefix + key, this.indexKey], [value, key, this.channel, this.#publishCommand]));
  }

  async delete(key: string): Promise<boolean> {
    let removedLegacy = false;
    if (this.#cluster) {
      const legacyKey = this.keyPrefix + key;
      removedLegacy = (await this.#command(legacyKey, () => this.#client.del(legacyKey))) > 0;
    }
    const removed = await this.#command(this.indexKey, () => this.#script(DELETE_SCRIPT, [this.#dataPrefix + key, this.indexKey], [key, this.channel, this.#publishCommand, removedLegacy ? "1" : "0"]));
    return Number(removed) === 1;
  }

  /**
   * Pages through the index, `scanPageSize` keys and their values per round trip (one script
   * run), each page pulled only once the reader has taken the one before: memory stays one page
   * however many keys match, and a reader that stops stops the scan. Each page is consistent in
   * itself; pages are not one snapshot (contract of {@link KeyValueStore.scan}).
   */
  async *scan(prefix: string, limit: number, signal: AbortSignal): AsyncIterable<Entry> {
    let from = `[${prefix}`;
    let left = limit === 0 ? Infinity : limit;
    while (left > 0 && !signal.aborted) {
      const count = Math.min(this.#scanPageSize, left);
      const page = (await this.#command(this.indexKey, () => this.#script(SCAN_PAGE_SCRIPT, [this.indexKey], [from, String(count), this.#dataPrefix]))) as (string | null)[];
      for (let i = 0; i < page.length; i += 2) {
        const key = page[i] as string;
        if (!key.startsWith(prefix)) return;
        const value = page[i + 1];
        if (value === null || value === undefined) continue;
        if (signal.aborted) return;
        left--;
        yield { key, value };
        if (left === 0) return;
      }
      if (page.length < 2 * count) return;
      from = `(${page[page.length - 2]}`;
    }
  }

  /**
   * Resolves once this store's subscriber connection (one per store, opened by the first Watch)
   * is subscribed to the channel, so every change any process makes after is seen; the Watches
   * of a store share the subscription, and one subscribing waits no longer than `timeoutMs`.
   * A change lost with that connection cannot be replayed: when it drops, every Watch open ends
   * with UNAVAILABLE, and a new Watch subscribes again once it is back.
   */
  async watch(prefix: string, signal: AbortSignal): Promise<AsyncIterable<Change>> {
    if (this.#closed) throw unavailable(new Error("the store is closed"));
    const watcher: Watcher = { prefix, feed: new ChangeFeed(signal, () => this.#watchers.delete(watcher), this.#maxPendingChanges) };
    if (signal.aborted) return watcher.feed;
    // Registered first: a change that arrives while subscribing is this watcher's too.
    this.#watchers.add(watcher);
    try {
      await this.#deadline(this.#subscribed());
    } catch (error) {
      watcher.feed.return();
      throw unavailable(error);
    }
    return watcher.feed;
  }

  /**
   * Adds to the index the keys a single Redis holds under `keyPrefix` that are not in it (written
   * before it existed), so that Scan finds them; SCAN's cursor walks the key space in small
   * steps and never blocks Redis. Resolves to how many were added. A no-op on a Cluster (there
   * such keys are read by Get and removed by Delete, but not scanned: docs/redis.md).
   */
  async backfillIndex(): Promise<number> {
    if (this.#cluster) return 0;
    const client = this.#client as Redis;
    const pattern = `${this.keyPrefix.replace(/[*?[\]\\]/g, "\\$&")}*`;
    let cursor = "0";
    let added = 0;
    do {
      const [next, redisKeys] = await client.scan(cursor, "MATCH", pattern, "COUNT", 1000);
      cursor = next;
      if (this.#closed) break;
      if (redisKeys.length === 0) continue;
      const keys = redisKeys.map((redisKey) => redisKey.slice(this.keyPrefix.length));
      added += Number(await this.#script(BACKFILL_SCRIPT, [this.indexKey], [this.keyPrefix, ...keys]));
    } while (cursor !== "0");
    return added;
  }

  /** Ends every Watch and closes the subscriber connection; the client stays the caller's. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const watcher of this.#watchers) watcher.feed.return();
    const subscriber = this.#subscriber;
    this.#subscriber = undefined;
    this.#subscription = undefined;
    if (subscriber !== undefined) subscriber.disconnect();
  }

  /** The subscription, asked for once per connection: one SUBSCRIBE in flight however many Watches wait. */
  #subscribed(): Promise<unknown> {
    if (this.#subscription !== undefined) return this.#subscription;
    const subscriber = this.#subscriberConnection();
    const subscription = this.#cluster ? subscriber.ssubscribe(this.channel) : subscriber.subscribe(this.channel);
    this.#subscription = subscription;
    subscription.catch(() => {
      if (this.#subscription === subscription) this.#subscription = undefined;
    });
    return subscription;
  }

  #subscriberConnection(): Redis | Cluster {
    if (this.#subscriber !== undefined) return this.#subscriber;
    // Unlike the client, the subscriber queues its SUBSCRIBE until connected (within the deadline).
    // On a Cluster, ioredis's sharded subscribers connect to the master of the channel's slot only.
    const subscriber = this.#cluster
      ? (this.#client as Cluster).duplicate(undefined, { enableOfflineQueue: true, shardedSubscribers: true })
      : (this.#client as Redis).duplicate({ enableOfflineQueue: true });
    subscriber.on(this.#cluster ? "smessageBuffer" : "messageBuffer", (_channel: Buffer, message: Buffer) => this.#publish(message));
    subscriber.on("error", () => undefined);
    // The changes published while a connection was down are lost to every open Watch: end them.
    // ("-node": a Cluster dropped a connection, the sharded subscriber's among them.)
    subscriber.on("close", () => this.#dropped());
    if (this.#cluster) subscriber.on("-node", () => this.#dropped());
    this.#subscriber = subscriber;
    return subscriber;
  }

  #publish(message: Buffer): void {
    if (this.#watchers.size === 0) return;
    const colon = message.indexOf(0x3a, 1);
    const end = colon + 1 + Number(message.toString("latin1", 1, colon));
    // Not a change this store published (another publisher on the channel): ignored.
    if (colon < 0 || !Number.isInteger(end) || end > message.length) return;
    const key = message.toString("utf8", colon + 1, end);
    const deleted = message[0] === 0x64;
    const change: Change = { key, value: deleted ? "" : message.toString("utf8", end), deleted };
    for (const watcher of this.#watchers) if (key.startsWith(watcher.prefix)) watcher.feed.publish(change);
  }

  /** The subscriber connection dropped: the next Watch subscribes again, the open ones end. */
  #dropped(): void {
    this.#subscription = undefined;
    if (this.#watchers.size === 0) return;
    const error = unavailable(new Error("the connection carrying the changes dropped"));
    for (const watcher of this.#watchers) watcher.feed.fail(error);
  }

  /** EVALSHA (routed by its first key), EVAL once for a Redis without the script in its cache. */
  async #script(script: RedisScript, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const client = this.#client;
    try {
      return await client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.eval(script.source, keys.length, ...keys, ...args);
    }
  }

  /** `send`, on `routingKey`'s Redis, within the deadline and past the breaker; any failure is UNAVAILABLE. */
  async #command<T>(routingKey: string, send: () => Promise<T>): Promise<T> {
    const health = this.#health?.healthOf(this.#health.slotOf(routingKey));
    if (health !== undefined && !health.shouldTry()) throw unavailable(new Error("Redis is out (its breaker is open)"));
    try {
      const result = await this.#deadline(send());
      health?.succeeded();
      return result;
    } catch (error) {
      if (health !== undefined && isOutage(error)) health.failed(error);
      throw unavailable(error);
    }
  }

  /** `reply`, or a RedisTimeout once `timeoutMs` has passed without it. */
  async #deadline<T>(reply: Promise<T>): Promise<T> {
    if (this.#timeoutMs === undefined) return reply;
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([reply, new Promise<never>((_, reject) => (timer = setTimeout(reject, this.#timeoutMs, new RedisTimeout(`Redis did not answer within ${this.#timeoutMs} ms`))))]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function unavailable(cause: unknown): StatusError {
  return new StatusError(Status.UNAVAILABLE, "key-value store unavailable", { cause });
}
