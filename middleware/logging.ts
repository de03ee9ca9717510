import { performance } from "node:perf_hooks";
import type { CallContext } from "../lib/context.js";
import { createLogger, type Logger, redactMetadata } from "../lib/logger.js";
import type { Middleware, Next } from "../lib/middleware.js";

/** Options of {@link logging}. */
export interface LoggingOptions {
  /** Where the lines go; default a pino logger on stderr at info level. */
  readonly logger?: Logger;
  /** Millisecond clock for durations; default performance.now. */
  readonly now?: () => number;
}

/**
 * One structured line per call, at info level, once the call has ended: service, method,
 * client (peer), status, duration in ms and, when a middleware ended the call, which one.
 * At debug level the line also carries the metadata, with secret values (authorization,
 * cookies, API keys) replaced by "[REDACTED]"; the request payload only at trace level.
 *
 * On the wire its name is "logging". Put it first to see every call, whoever ends it.
 *
 * @example
 *   app.use(logging({ logger: pino() }));
 *   // {"level":30,"service":"KeyValue","method":"Get","client":"c1","status":"OK","ms":0.041,"msg":"call"}
 */
export function logging(options: LoggingOptions = {}): Middleware {
  const logger = options.logger ?? createLogger().logger;
  const now = options.now ?? (() => performance.now());
  if (typeof logger.info !== "function") throw new TypeError("logging(): logger must have info(), debug(), trace() and isLevelEnabled()");
  return async function logging(ctx: CallContext, next: Next): Promise<void> {
    const start = now();
    try {
      await next();
    } finally {
      const line: Record<string, unknown> = {
        service: ctx.service,
        method: ctx.method,
        client: ctx.peer,
        status: ctx.status,
        ms: Math.round((now() - start) * 1000) / 1000,
      };
      const failed = ctx.interceptorFailed;
      if (failed !== undefined) line["failed"] = failed;
      if (logger.isLevelEnabled("debug")) line["metadata"] = redactMetadata(ctx.metadata);
      if (logger.isLevelEnabled("trace")) line["request"] = ctx.request;
      logger.info(line, "call");
    }
  };
}
