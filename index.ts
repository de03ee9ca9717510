export { Application, type ApplicationOptions, type ErrorListener, type UseOptions } from "./lib/core/application.js";
export { CallKind, isCallKind } from "./lib/core/call-kind.js";
export { CallContext, type CallInit, type Failure, HANDLER, PIPELINE } from "./lib/core/context.js";
export { parseTimeout } from "./lib/core/deadline.js";
export { clientOf, type HostContext, httpStatusOf, type KoaContext, requestHeader } from "./lib/core/host-context.js";
export { type Change, type Entry, type KeyValueOptions, type KeyValueStore, MemoryStore, type MemoryStoreOptions, keyValueService } from "./lib/key-value/key-value.js";
export { createLogger, type Logger, type LoggerHandle, redactMetadata } from "./lib/logging/logger.js";
export { Metadata } from "./lib/core/metadata.js";
export type { Handler, Middleware, Next, PortableMiddleware } from "./lib/core/middleware.js";
export { closeRedisClient, type ConnectOutcome, createRedisClient, type RedisClient, type RedisClientOptions, whenConnected } from "./lib/redis/redis-client.js";
export { RedisHealth, type RedisHealthOptions, type RedisState } from "./lib/limiters/redis-health.js";
export { RedisStore, type RedisStoreOptions } from "./lib/key-value/redis-store.js";
export { RedisTokenBucket, type RedisTokenBucketOptions } from "./lib/limiters/redis-token-bucket.js";
export {
  bidi,
  type BidiMethod,
  clientStream,
  type ClientStreamMethod,
  defineService,
  type Method,
  type Router,
  router,
  type ServerStreamMethod,
  serverStream,
  type ServiceDefinition,
  type StreamingMethod,
  type UnaryMethod,
} from "./lib/core/service.js";
export type { Send, StreamWrapper } from "./lib/core/streams.js";
export { Status, type StatusName, httpStatus, isServerFault, isStatusName, statusCode } from "./lib/core/status.js";
export { StatusError, type StatusErrorOptions } from "./lib/core/status-error.js";
export { TokenBucket, type TokenBucketOptions } from "./lib/limiters/token-bucket.js";
export { type MethodRef, type MethodSelector, methodOf, unless, when } from "./lib/core/when.js";
export { type AuthOptions, type AuthState, auth, type Principal, type StaticPrincipal } from "./middleware/auth.js";
export { type AuthorizeOptions, type AuthorizeRule, authorize } from "./middleware/authorize.js";
export { type FaultOptions, type FaultRule, faults, type ServerFaultOptions } from "./middleware/faults.js";
export { JwtRejected, JwtVerifier, type JwtVerifierOptions } from "./lib/auth/jwt-verifier.js";
export type { JwksUrlOptions, JwtKeyOptions } from "./lib/auth/key-source.js";
export { logging, type LoggingOptions } from "./middleware/logging.js";
export { type ConsumingLimiter, type LimitOptions, rateLimit, type RateLimitOptions, type RateLimitState, type StackedLimit } from "./middleware/rate-limit.js";
export { keyByMetadata, keyByMethod, keyByPrincipal } from "./middleware/rate-limit-keys.js";
export { metrics, type MetricsOptions } from "./middleware/metrics.js";
export { propagate, type PropagateOptions } from "./middleware/propagate.js";
export { requestId, type RequestIdOptions, type RequestIdState } from "./middleware/request-id.js";
export { tracing, type TracingOptions } from "./middleware/tracing.js";
export { goCodeName } from "./lib/observability/codes.js";
export { traceLogFields } from "./lib/observability/trace-context.js";
/** The client side (createClient, transports, outbound middleware), also as "rpc-interceptors/client". */
export * as client from "./client.js";
