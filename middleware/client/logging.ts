import { performance } from "node:perf_hooks";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import { createLogger, type Logger, redactMetadata } from "../../lib/logging/logger.js";
import type { Next } from "../../lib/core/middleware.js";

/** Options of {@link logging}. */
export interface ClientLoggingOptions {
  /** Where the lines go; default a pino logger on stderr at info level. */
  readonly logger?: Logger;
  /** Millisecond clock for durations; default performance.now. */
  readonly now?: () => number;
}

/**
 * One structured line per call that passes it, at info level, once the call has ended:
 * service, method, status, duration in ms, the attempt the outcome came from (when not the
 * first) and the server interceptor that stopped the call, if one did. At debug level the line
 * carries the metadata with secrets ("authorization", cookies, API keys) shown as
 * "[REDACTED]"; the request only at trace level. Never the token.
 *
 * Where it goes decides what it sees: first, every call the application makes, cache hits
 * included; after `cache()`, only what goes to the network; after `retry()`, every attempt.
 *
 * @example
 *   client.use(logging({ logger: pino() }));
 *   // {"level":30,"service":"KeyValue","method":"Get","status":"OK","ms":0.52,"msg":"outbound call"}
 */
export function logging(options: ClientLoggingOptions = {}): ClientMiddleware {
  const logger = options.logger ?? createLogger().logger;
  const now = options.now ?? (() => performance.now());
  if (typeof logger?.info !== "function" || typeof logger.isLevelEnabled !== "function") throw new TypeError("logging(): logger must have info() and isLevelEnabled()");
  if (typeof now !== "function") throw new TypeError("logging(): now must be a function");
  return async function logging(ctx: ClientCallContext, next: Next): Promise<void> {
    const start = now();
    await next();
    const line: Record<string, unknown> = {
      service: ctx.service,
      method: ctx.method,
      status: ctx.status,
      ms: Math.round((now() - start) * 1000) / 1000,
    };
    if (ctx.attempt > 1) line["attempt"] = ctx.attempt;
    if (ctx.interceptorFailed !== undefined) line["failed"] = ctx.interceptorFailed;
    if (logger.isLevelEnabled("debug")) line["metadata"] = redactMetadata(ctx.metadata);
    if (logger.isLevelEnabled("trace")) line["request"] = ctx.request;
    logger.info(line, "outbound call");
  };
}
