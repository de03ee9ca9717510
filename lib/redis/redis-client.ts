import { performance } from "node:perf_hooks";
import type { Cluster, ClusterOptions, Redis, RedisOptions } from "ioredis";
import type { Logger } from "../logging/logger.js";

/** An ioredis client: one Redis or a Redis Cluster. */
export type RedisClient = Redis | Cluster;

/** Where Redis is and how long to wait for it; exactly one of `url` and `clusterNodes`. */
export interface RedisClientOptions {
  /** One Redis: `redis://[user:password@]host:port[/db]` (or rediss:// for TLS). */
  readonly url?: string | undefined;
  /** Redis Cluster nodes to discover the cluster from (seeds), `host:port` each. */
  readonly clusterNodes?: readonly string[] | undefined;
  /**
   * A command without a reply after this many ms fails. Default 150: a backstop 50 ms past a
   * RedisTokenBucket's own deadline (100 ms), which decides when a call falls back, so that the
   * client never throws away a reply the limiter could still use.
   */
  readonly commandTimeoutMs?: number;
  /** A connection attempt without an answer after this many ms fails. Default 1000. */
  readonly connectTimeoutMs?: number;
  /** Reconnection attempts are spaced 100 ms, 200 ms, ... up to this. Default 1000. */
  readonly maxReconnectDelayMs?: number;
  /** Where connection errors go, at debug level (the limiter logs the state changes). */
  readonly logger?: Pick<Logger, "debug">;
}

/**
 * Creates an ioredis client that fails fast, so that a caller never waits on a Redis
 * that is down or stalled and can answer from memory instead:
 * - no offline queue: a command while disconnected fails at once instead of waiting;
 * - one retry per request at most, a command timeout of `commandTimeoutMs`;
 * - no re-sending of commands in flight when a connection drops: a re-sent consume would count
 *   twice;
 * - auto-pipelining: the commands of one event-loop turn share one round trip;
 * - reconnection forever, backing off to `maxReconnectDelayMs`, so Redis is used again as soon
 *   as it is back.
 * ioredis is imported here, on first use, so that processes without Redis never load it.
 *
 * @example
 *   const client = await createRedisClient({ url: "redis://127.0.0.1:6379", logger });
 *   await whenConnected(client, 1000);
 */
export async function createRedisClient(options: RedisClientOptions): Promise<RedisClient> {
  const { url, clusterNodes, commandTimeoutMs = 150, connectTimeoutMs = 1000, maxReconnectDelayMs = 1000, logger } = options;
  if ((url === undefined) === (clusterNodes === undefined)) throw new TypeError("createRedisClient(): pass url or clusterNodes, exactly one");
  const { Redis, Cluster } = await import("ioredis");
  const backOff = (times: number): number => Math.min(times * 100, maxReconnectDelayMs);
  const perConnection = {
    maxRetriesPerRequest: 1,
    commandTimeout: commandTimeoutMs,
    connectTimeout: connectTimeoutMs,
    autoResendUnfulfilledCommands: false,
    // How long a closing socket may linger before it is destroyed. ioredis arms this timer even
    // for a socket that is closed already (a refused connect), which would hold up the exit.
    disconnectTimeout: 100,
  } satisfies RedisOptions;
  let client: RedisClient;
  if (url !== undefined) {
    client = new Redis(url, { ...perConnection, enableOfflineQueue: false, enableAutoPipelining: true, retryStrategy: backOff });
  } else {
    client = new Cluster(clusterNodes!.map(seed), {
      enableOfflineQueue: false,
      enableAutoPipelining: true,
      clusterRetryStrategy: backOff,
      slotsRefreshTimeout: connectTimeoutMs,
      redisOptions: perConnection,
    } satisfies ClusterOptions);
    client.on("node error", (error: unknown, node: string) => logger?.debug({ err: errorText(error), node }, "Redis Cluster node error"));
  }
  // Without a listener ioredis prints every failed reconnection to the console.
  client.on("error", (error: unknown) => logger?.debug({ err: errorText(error) }, "Redis connection error"));
  return client;
}

/** How the first connection went: connected, failed, or still trying after the wait. */
export type ConnectOutcome = "ready" | "error" | "timeout";

/**
 * Waits for `client`'s first `ready` or `error`, at most `timeoutMs`. A Cluster client connects
 * to each master only on its first command; this connects them too (within the same wait), so
 * the first calls do not pay for it. Leaves no listener or timer behind.
 */
export async function whenConnected(client: RedisClient, timeoutMs: number): Promise<ConnectOutcome> {
  const deadline = performance.now() + timeoutMs;
  const outcome = await firstEvent(client, timeoutMs);
  if (outcome !== "ready" || !("nodes" in client)) return outcome;
  const masters = Promise.all(client.nodes("master").map((node) => node.ping().catch(() => undefined)));
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<"timeout">((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - performance.now()), "timeout")));
  try {
    return await Promise.race([masters.then(() => "ready" as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

function firstEvent(client: RedisClient, timeoutMs: number): Promise<ConnectOutcome> {
  if (client.status === "ready") return Promise.resolve("ready");
  return new Promise((resolve) => {
    const done = (outcome: ConnectOutcome) => () => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("error", onError);
      resolve(outcome);
    };
    const onReady = done("ready");
    const onError = done("error");
    const timer = setTimeout(done("timeout"), timeoutMs);
    client.once("ready", onReady);
    client.once("error", onError);
  });
}

/**
 * Closes `client`: QUIT (replies still due are read first) when Redis answers within
 * `graceMs`, then a hard disconnect either way, which also stops reconnecting.
 */
export async function closeRedisClient(client: RedisClient, graceMs = 500): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([client.quit(), new Promise((resolve) => (timer = setTimeout(resolve, graceMs)))]);
  } catch {
    // Not connected, or it failed: the disconnect below is all there is to do.
  } finally {
    clearTimeout(timer);
    if (client.status !== "end") client.disconnect();
  }
}

function seed(hostPort: string): { host: string; port: number } {
  const colon = hostPort.lastIndexOf(":");
  return { host: hostPort.slice(0, colon).replace(/^\[(.*)\]$/, "$1"), port: Number(hostPort.slice(colon + 1)) };
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));
