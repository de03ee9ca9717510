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
 * formatters, hooks, mixin, redaction or nested key), so a line of scalar fields can be built as
 * text without pino's generic formatter (see {@link infoLineWriter}).
 */
const plainLoggers = new WeakSet<object>();

/** A scalar field of a fixed-shape log line; undefined leaves the field out. */
export type LineValue = string | number | boolean | undefined;

/** Writes one line; the values are those of the writer's keys, in order. */
export type LineWriter = (values: readonly LineValue[]) => void;

const INFO = 30;
const { chindingsSym, endSym, lsCacheSym, streamSym, timeSym } = pino.symbols;

/** A pino logger's state under its documented integration symbols (`pino.symbols`). */
type PinoInternals = Record<symbol, unknown> & { readonly levelVal: number };

/** A JSON string literal, as JSON.stringify writes it; the common case (printable ASCII) without a call into it. */
function jsonString(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return JSON.stringify(s);
  }
  return `"${s}"`;
}

/**
 * A writer of one info line of scalar fields: `write(values)` prints what
 * `logger.info({ [keys[i]]: values[i], ... }, msg)` prints. For a logger made by
 * {@link createLogger} the line is built here, as text, the way pino builds it (its level and
 * time prefix, its bindings, the fields, the message) and handed to its stream: pino's generic
 * formatting of an object (a `for...in` over it, a type switch and a key quoted per field) was
 * 12% of bin/node's CPU time at one line per call (issue 6). Any other logger (a child, a
 * user's pino with serializers or redaction, something else) gets `logger.info()`.
 *
 * @example
 *   const write = infoLineWriter(logger, "call", ["service", "status", "ms"]);
 *   write(["KeyValue", "OK", 0.041]); // {"level":30,"time":...,"pid":...,"service":"KeyValue","status":"OK","ms":0.041,"msg":"call"}
 */
export function infoLineWriter(logger: Logger, msg: string, keys: readonly string[]): LineWriter {
  if (!plainLoggers.has(logger)) {
    return (values) => {
      const fields: Record<string, LineValue> = {};
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as string;
        if (values[i] !== undefined) fields[key] = values[i];
      }
      logger.info(fields, msg);
    };
  }
  const internals = logger as unknown as PinoInternals;
  const levelPrefix = (internals[lsCacheSym] as Record<number, string>)[INFO] as string;
  const time = internals[timeSym] as () => string;
  const stream = internals[streamSym] as { write(line: string): unknown };
  const quotedKeys = keys.map((key) => `,${JSON.stringify(key)}:`);
  const tail = `,"msg":${JSON.stringify(msg)}${internals[endSym] as string}`;
  return (values) => {
    if (internals.levelVal > INFO) return;
    // Bindings are read per line: pino's setBindings() replaces them.
    let line = levelPrefix + time() + (internals[chindingsSym] as string);
    for (let i = 0; i < quotedKeys.length; i++) {
      const value = values[i];
      switch (typeof value) {
        case "string":
          line += quotedKeys[i] + jsonString(value);
          break;
        case "number":
          line += quotedKeys[i] + (Number.isFinite(value) ? String(value) : "null");
          break;
        case "boolean":
          line += quotedKeys[i] + String(value);
          break;
        default:
      }
    }
    stream.write(line + tail);
  };
}
