import { auth } from "../../middleware/auth.js";
import { logging } from "../../middleware/logging.js";
import { type ConsumingLimiter, rateLimit } from "../../middleware/rate-limit.js";
import { Application } from "../core/application.js";
import type { Middleware } from "../core/middleware.js";
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
  /** Middleware put before logging (tracing, metrics: see NodeTelemetry), outermost first; none by default. */
  readonly observability?: readonly Middleware[] | undefined;
}

/**
 * The application bin/node serves: logging -> auth -> rate_limit -> KeyValue, behind the
 * `observability` middleware when there are any (then they are in `interceptors_applied` too).
 */
export function createNodeApplication({ config, logger, store, limiter, observability = [] }: NodeApplicationOptions) {
  const limits = limiter === undefined ? { capacity: config.rateLimitCapacity, refillPerSecond: config.rateLimitRefillPerSecond } : { limiter };
  const app = new Application({
    onError: (err, ctx, at) => logger.error({ err, service: ctx.service, method: ctx.method, client: ctx.peer, at }, "call failed"),
  });
  for (const middleware of observability) app.use(middleware);
  return app
    .use(logging({ logger }))
    .use(auth({ tokens: config.authTokens }))
    .use(rateLimit({ ...limits, trustProxy: config.trustProxy }))
    .handle(router([keyValueService(store, { maxKeyBytes: config.maxKeyBytes, maxValueBytes: config.maxValueBytes })]));
}
