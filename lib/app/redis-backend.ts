import type { NodeConfig } from "./config.js";
import type { Logger } from "../logging/logger.js";
import { closeRedisClient, createRedisClient, type RedisClient, whenConnected } from "../redis/redis-client.js";
import { RedisStore } from "../key-value/redis-store.js";
import { RedisTokenBucket } from "../limiters/redis-token-bucket.js";

/** The Redis settings of bin/node. */
export type RedisConfig = Pick<
  NodeConfig,
  "redisUrl" | "redisClusterNodes" | "redisKeyPrefix" | "redisCommandTimeoutMs" | "kvStore" | "rateLimitCapacity" | "rateLimitRefillPerSecond"
>;

/** What bin/node shares through Redis, and the owner of the one connection (pool) behind it. */
export interface RedisBackend {
  readonly client: RedisClient;
  /** The rate limiter for rateLimit({ limiter }). */
  readonly limiter: RedisTokenBucket;
  /** Another bucket on the same connection, for one of several stacked limits (keys under `rl:<name>:`). */
  limiterFor(limit: { readonly name: string; readonly capacity: number; readonly refillPerSecond: number }): RedisTokenBucket;
  /** The KeyValue data, with `kvStore: "redis"`; otherwise undefined (memory). */
  readonly store: RedisStore | undefined;
  /** Closes the connection(s); call it once every call in flight has been answered. */
  close(): Promise<void>;
}

/** A connection that is neither up nor refused after this long is left to connect in the background. */
const CONNECT_WAIT_MS = 1000;
/** How much later than the limiter's deadline the client's own command timeout fires. */
const CLIENT_TIMEOUT_SLACK_MS = 50;

/**
 * Connects bin/node to Redis (or a Redis Cluster) per `config`: a {@link RedisTokenBucket}
 * with its in-memory insurance bucket, and, when asked, the KeyValue store, on one client.
 *
 * Waits for the first connection (at most about a second) so that the first calls are counted
 * in Redis; when Redis cannot be reached it resolves all the same, one log line says so, and
 * calls are answered by the insurance bucket until Redis answers.
 */
export async function openRedisBackend(config: RedisConfig, logger: Logger): Promise<RedisBackend> {
  const client = await createRedisClient({
    url: config.redisUrl,
    clusterNodes: config.redisClusterNodes,
    // The limiter's own deadline (below) decides when a call falls back; the client's comes a
    // little later, as a backstop that never throws away a reply the limiter could still use.
    commandTimeoutMs: config.redisCommandTimeoutMs + CLIENT_TIMEOUT_SLACK_MS,
    connectTimeoutMs: CONNECT_WAIT_MS,
    logger,
  });
  const bucket = (capacity: number, refillPerSecond: number, keyPrefix: string): RedisTokenBucket =>
    new RedisTokenBucket({ client, capacity, refillPerSecond, keyPrefix, timeoutMs: config.redisCommandTimeoutMs, logger });
  const limiter = bucket(config.rateLimitCapacity, config.rateLimitRefillPerSecond, `${config.redisKeyPrefix}rl:`);
  const limiterFor: RedisBackend["limiterFor"] = (limit) => bucket(limit.capacity, limit.refillPerSecond, `${config.redisKeyPrefix}rl:${limit.name}:`);
  // The store waits no longer than the limiter, and skips a Redis the limiter's breakers know is out.
  const store = config.kvStore === "redis"
    ? new RedisStore({ client, keyPrefix: `${config.redisKeyPrefix}kv:`, timeoutMs: config.redisCommandTimeoutMs, health: limiter.health })
    : undefined;
  if ((await whenConnected(client, CONNECT_WAIT_MS + 100)) === "timeout") {
    logger.warn({ redis: "connecting" }, "Redis has not answered yet: rate limits come from this node's in-memory insurance bucket until it does");
  }
  // Keys written before the Scan index existed join it in the background; Get reads them meanwhile.
  const backfill = store?.backfillIndex().then(
    (added) => added > 0 && logger.info({ added }, "KeyValue keys written before the Scan index existed were added to it"),
    (error: unknown) => logger.warn({ err: error instanceof Error ? error.message : String(error) }, "KeyValue Scan index backfill failed: Scan misses keys written before the index existed"),
  );
  const close = async (): Promise<void> => {
    await store?.close();
    await backfill;
    await closeRedisClient(client);
  };
  return { client, limiter, limiterFor, store, close };
}
