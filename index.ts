export { Application, type ApplicationOptions, type ErrorListener, type UseOptions } from "./lib/application.js";
export { CallContext, type CallInit, type Failure, HANDLER } from "./lib/context.js";
export { type KeyValueStore, MemoryStore, keyValueService } from "./lib/key-value.js";
export { createLogger, type Logger, type LoggerHandle, redactMetadata } from "./lib/logger.js";
export { Metadata } from "./lib/metadata.js";
export type { Handler, Middleware, Next } from "./lib/middleware.js";
export { closeRedisClient, type ConnectOutcome, createRedisClient, type RedisClient, type RedisClientOptions, whenConnected } from "./lib/redis-client.js";
export { RedisHealth, type RedisHealthOptions, type RedisState } from "./lib/redis-health.js";
export { RedisStore, type RedisStoreOptions } from "./lib/redis-store.js";
export { RedisTokenBucket, type RedisTokenBucketOptions } from "./lib/redis-token-bucket.js";
export { defineService, router, type ServiceDefinition, type UnaryMethod } from "./lib/service.js";
export { Status, type StatusName, httpStatus, isServerFault, isStatusName, statusCode } from "./lib/status.js";
export { StatusError, type StatusErrorOptions } from "./lib/status-error.js";
export { TokenBucket, type TokenBucketOptions } from "./lib/token-bucket.js";
export { type AuthOptions, type AuthState, auth, type Principal } from "./middleware/auth.js";
export { logging, type LoggingOptions } from "./middleware/logging.js";
export { type ConsumingLimiter, rateLimit, type RateLimitOptions, type RateLimitState } from "./middleware/rate-limit.js";
// The client side (createClient, transports, outbound middleware) also as "rpc-interceptors/client".
export * as client from "./lib/client/index.js";
