import type * as PinoModule from "pino";
import { requireCommonJs } from "../core/require-common-js.js";
import { LogSink } from "./log-sink.js";
import type { Metadata } from "../core/metadata.js";
import type { LogLevel } from "./log-levels.js";

/** pino, loaded with require() for start-up time (see requireCommonJs). */
const { pino }: typeof PinoModule = requireCommonJs("pino");

/** What the middleware need of a logger; a pino logger is one. */
export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  isLevelEnabled(level: string): boolean;
}

/** A pino logger and the way to flush it before the process ends. */
export interface LoggerHandle {
  readonly logger: PinoModule.Logger;
  /** Writes out whatever is buffered, synchronously. Safe to call more than once. */
  flush(): void;
}

/**
 * A pino logger writing JSON lines to stderr (or `destination`, a file descriptor or path)
 * through an asynchronous, batched {@link LogSink}, so logging never blocks a call. A `mixin`
 * (pino's, taking nothing of the line) adds its fields to every line, e.g. `traceLogFields`
 * for `trace_id` and `span_id`.
 */
export function createLogger(options: { level?: LogLevel; destination?: number | string; mixin?: (() => object) | undefined } = {}): LoggerHandle {
  const sink = new LogSink({ destination: options.destination ?? 2 });
  const mixin = options.mixin;
  const logger = pino({ level: options.level ?? "info", base: { pid: process.pid }, ...(mixin === undefined ? {} : { mixin }) }, sink);
  plainLoggers.add(logger);
  return {
    logger,
    flush() {
      sink.flushSync();
    },
  };
}

/** Metadata keys whose values are secrets: never logged, at any level. */
const SECRET_KEYS: ReadonlySet<string> = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"]);

/** The metadata as a plain object for a log line, secret values replaced by "[REDACTED]". */
export function redactMetadata(metadata: Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of metadata.entries()) out[key] = SECRET_KEYS.has(key) ? "[REDACTED]" : value;
  return out;
}

/**
 * Loggers made by {@link createLogger}: pino with its default formatting (no serializers,
 * formatters, hooks, redaction or nested key; at most a mixin that reads nothing of the line),
 * so a line of scalar fields can be built as text without pino's generic formatter
 * (pino-line.ts).
 */
const plainLoggers = new WeakSet<object>();

/** Whether `logger` was made by {@link createLogger}, so that its lines may be built as pino would. */
export function isPlainPino(logger: Logger): boolean {
  return plainLoggers.has(logger);
}
