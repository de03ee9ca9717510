import { auth } from "../../middleware/auth.js";
import { logging } from "../../middleware/logging.js";
import { type ConsumingLimiter, rateLimit } from "../../middleware/rate-limit.js";
import { Application } from "../core/application.js";
import type { NodeConfig } from "./config.js";
import { type KeyValueStore, keyValueService } from "../key-value/key-value.js";
import type { Logger } from "../logging/logger.js";
import { router } from "../core/service.js";

/** What {@link createNodeApplication} needs. */
export interface NodeApplicationOptions {
  readonly config: Pick<NodeConfig, "authTokens" | "rateLimitCapacity" | "rateLimitRefillPerSecond" | "trustProxy"> &
    Partial<Pick<NodeConfig, "maxKeyBytes" | "maxValueBytes">>;
  readonly logger: Logger;
  /** Where KeyValue keeps its data; in memory by default. */
  readonly store?: KeyValueStore | undefined;
  /** The rate limiter (a RedisTokenBucket, say); by default an in-memory token bucket per config. */
  readonly limiter?: ConsumingLimiter | undefined;
}

/** The application bin/node serves: logging -> auth -> rate_limit -> KeyValue. */
export function createNodeApplication({ config, logger, store, limiter }: NodeApplicationOptions) {
  const limits = limiter === undefined ? { capacity: config.rateLimitCapacity, refillPerSecond: config.rateLimitRefillPerSecond } : { limiter };
  return new Application({
    onError: (err, ctx, at) => logger.error({ err, service: ctx.service, method: ctx.method, client: ctx.peer, at }, "call failed"),
  })
    .use(logging({ logger }))
    .use(auth({ tokens: config.authTokens }))
    .use(rateLimit({ ...limits, trustProxy: config.trustProxy }))
    .handle(router([keyValueService(store, { maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes })]));
}
