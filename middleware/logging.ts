import { CallContext } from "../lib/core/context.js";
import { clientOf, httpStatusOf, type KoaContext } from "../lib/core/host-context.js";
import { createLogger, type Logger, redactMetadata } from "../lib/logging/logger.js";
import { infoLineWriter, levelGate } from "../lib/logging/pino-line.js";
import { Metadata } from "../lib/core/metadata.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { lineRedactor } from "../lib/logging/redaction.js";
import { clockOf } from "../lib/observability/call-clock.js";
import { finishedAlready } from "../lib/core/tail-call.js";

/** Options of {@link logging}. */
export interface LoggingOptions {
  /** Where the lines go; default a pino logger on stderr at info level. */
  readonly logger?: Logger;
  /**
   * Millisecond clock for durations, read by this middleware alone; default performance.now,
   * read once per edge of a call with a metrics() in the same chain (call-clock.ts).
   */
  readonly now?: () => number;
  /**
   * More to keep out of the logs, as pino's redaction paths over the line's fields, on top of
   * the built-in secrets (authorization, cookies, API keys): metadata keys
   * (`metadata["x-session"]`, in Koa `headers["x-session"]`), request fields (`request.password`,
   * `request.*.token`), or a whole field (`client`). Each value found there is logged as
   * "[REDACTED]", at every level. A bad path throws here. Default none.
   */
  readonly redact?: readonly string[];
}

/**
 * One structured line per call, at info level, once the call has ended: service, method,
 * client (peer), status, duration in ms, the messages received and sent, and, when a
 * middleware ended the call, which one. A streaming call is one call: its line comes when the
 * stream has ended, with the whole stream's duration and message counts. A call refused for a
 * while (rate_limit) carries `retryAfterMs`, the wait until it would pass.
 * At debug level the line also carries the metadata, with secret values (authorization,
 * cookies, API keys, and the `redact` paths) replaced by "[REDACTED]", and for a failed call
 * its `error` (the message and details: why a token was refused, say); the request payload
 * only at trace level.
 *
 * On the wire its name is "logging". Put it first to see every call, whoever ends it.
 *
 * In Koa the line is per request: HTTP method, path, client (`ctx.ip`), the HTTP status the
 * client gets (for an error on its way to Koa's `ctx.onerror`, the status that will answer it)
 * and duration; at debug level the request headers, redacted the same way.
 *
 * @example
 *   app.use(logging({ logger: pino() }));
 *   // {"level":30,"service":"KeyValue","method":"Get","client":"c1","status":"OK","ms":0.041,"received":1,"sent":1,"msg":"call"}
 *   // in Koa: {"level":30,"method":"GET","path":"/kv/a","client":"::1","status":401,"ms":0.3,"msg":"request"}
 */
export function logging(options: LoggingOptions = {}): PortableMiddleware {
  const logger = options.logger ?? createLogger().logger;
  const clock = clockOf(options.now);
  if (typeof logger.info !== "function") throw new TypeError("logging(): logger must have info(), debug(), trace() and isLevelEnabled()");
  const redactor = lineRedactor(options.redact ?? [], "logging()");

  // The info line of a call, built without an object and pino's generic formatting (measured:
  // cheaper per call); a field a redact path names is censored there too.
  const callLine = infoLineWriter(logger, "call", ["service", "method", "client", "status", "ms", "received", "sent", "failed", "retryAfterMs"], redactor.censoredFields);
  const debugOn = levelGate(logger, "debug");

  // A downstream that finished synchronously gets its line at once, with no await of its own
  // (lib/core/tail-call.ts); anything else is awaited as an async middleware would. The clock
  // readings are shared with a metrics() around or inside this layer (call-clock.ts).
  function logCall(ctx: CallContext, next: Next): Promise<void> {
    const start = clock.entered(ctx);
    const done = next();
    if (finishedAlready(done)) {
      writeCall(ctx, clock.left(ctx) - start);
      return done;
    }
    clock.suspended(ctx);
    return logWhenSettled(ctx, done, start);
  }

  async function logWhenSettled(ctx: CallContext, done: Promise<void>, start: number): Promise<void> {
    try {
      await done;
    } finally {
      writeCall(ctx, clock.now() - start);
    }
  }

  /** The call's line, `elapsed` ms after it entered. */
  function writeCall(ctx: CallContext, elapsed: number): void {
    const ms = Math.round(elapsed * 1000) / 1000;
    if (debugOn()) {
      const line: Record<string, unknown> = { service: ctx.service, method: ctx.method, client: ctx.peer, status: ctx.status, ms, received: ctx.messagesIn, sent: ctx.messagesOut };
      const failed = ctx.interceptorFailed;
      if (failed !== undefined) line["failed"] = failed;
      const retryAfterMs = retryAfterMsOf(ctx);
      if (retryAfterMs !== undefined) line["retryAfterMs"] = retryAfterMs;
      const error = ctx.failure?.error;
      if (error !== undefined && error.expose) line["error"] = { message: error.message, ...error.details };
      line["metadata"] = redactMetadata(ctx.metadata);
      if (logger.isLevelEnabled("trace")) line["request"] = ctx.request;
      logger.info(redactor.redact(line), "call");
    } else {
      callLine([ctx.service, ctx.method, ctx.peer, ctx.status, ms, ctx.messagesIn, ctx.messagesOut, ctx.interceptorFailed, retryAfterMsOf(ctx)]);
    }
  }

  async function logRequest(ctx: KoaContext, next: Next): Promise<void> {
    const start = clock.now();
    let status: number | undefined;
    try {
      await next();
    } catch (error) {
      // Koa sets the status after every middleware has returned; say now what it will be.
      status = httpStatusOf(error);
      throw error;
    } finally {
      const line: Record<string, unknown> = {
        method: ctx.method,
        path: ctx.path,
        client: clientOf(ctx),
        status: status ?? ctx.status,
        ms: Math.round((clock.now() - start) * 1000) / 1000,
      };
      if (logger.isLevelEnabled("debug")) line["headers"] = redactMetadata(new Metadata(ctx.headers));
      logger.info(redactor.redact(line), "request");
    }
  }

  /** The wait a refused call was told, from its error's details, when there is one. */
  function retryAfterMsOf(ctx: CallContext): number | undefined {
    const wait = ctx.failure?.error.details?.["retryAfterMs"];
    return typeof wait === "number" && Number.isFinite(wait) ? wait : undefined;
  }

  // One name, two hosts; the dispatch adds no closure and no await to either.
  return function logging(ctx: CallContext | KoaContext, next: Next): Promise<void> {
    return ctx instanceof CallContext ? logCall(ctx, next) : logRequest(ctx, next);
  };
}
