/**
 * The client side of rpc-interceptors, importable as "rpc-interceptors/client": `createClient(transport)`
 * with outbound middleware (credentials, deadline, retry, cache, logging, faults, tracing, metrics, propagate) and the in-process and
 * stdio transports.
 *
 * @packageDocumentation
 */
export * from "./lib/client/index.js";
export { cache, type CacheOptions, type CacheState } from "./middleware/client/cache.js";
export { credentials, type CredentialsOptions } from "./middleware/client/credentials.js";
export { deadline, type DeadlineOptions } from "./middleware/client/deadline.js";
export { type ClientFaultOptions, faults } from "./middleware/client/faults.js";
export { type ClientLoggingOptions, logging } from "./middleware/client/logging.js";
export { retry, type RetryEvent, type RetryOptions } from "./middleware/client/retry.js";
export { type ClientMetricsOptions, metrics } from "./middleware/client/metrics.js";
export { type ClientPropagateOptions, propagate } from "./middleware/client/propagate.js";
export { type ClientTracingOptions, tracing } from "./middleware/client/tracing.js";
