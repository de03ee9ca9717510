import { pino } from "pino";
import { LogSink } from "./log-sink.js";
import type { Metadata } from "./metadata.js";

/** What the middleware need of a logger; a pino logger is one. */
export interface Logger {
  trace(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  isLevelEnabled(level: string): boolean;
}

/** The levels LOG_LEVEL accepts, quietest last. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A pino logger and the way to flush it before the process ends. */
export interface LoggerHandle {
  readonly logger: pino.Logger;
  /** Writes out whatever is buffered, synchronously. Safe to call more than once. */
  flush(): void;
}

/**
 * A pino logger writing JSON lines to stderr (or `destination`, a file descriptor or path)
 * through an asynchronous, batched {@link LogSink}, so logging never blocks a call.
 */
export function createLogger(options: { level?: LogLevel; destination?: number | string } = {}): LoggerHandle {
  const sink = new LogSink({ destination: options.destination ?? 2 });
  const logger = pino({ level: options.level ?? "info", base: { pid: process.pid } }, sink);
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
