import { pino } from "pino";
import { LogSink } from "./log-sink.js";
import type { Metadata } from "../core/metadata.js";

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
 * through an asynchronous, batched {@link LogSink}, so logging never blocks a call. A `mixin`
 * (pino's) adds its fields to every line, e.g. `traceLogFields` for `trace_id` and `span_id`.
 */
export function createLogger(options: { level?: LogLevel; destination?: number | string; mixin?: (() => object) | undefined } = {}): LoggerHandle {
  const sink = new LogSink({ destination: options.destination ?? 2 });
  const mixin = options.mixin;
  const logger = pino({ level: options.level ?? "info", base: { pid: process.pid }, ...(mixin === undefined ? {} : { mixin }) }, sink);
  // A mixin adds fields to every line: such a logger formats its own lines (see infoLineWriter).
  if (mixin === undefined) plainLoggers.add(logger);
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
type PinoInternals = Record<symbol, unknown> & { on(event: "level-change", listener: () => void): unknown };

/**
 * `() => logger.isLevelEnabled(level)`, answered from a cached flag for a logger made by
 * {@link createLogger}: pino reads the level from the logger's properties, which are in
 * dictionary mode, and that lookup per call was a cost of its own (issue 6). The flag follows
 * pino's level-change event. Any other logger is asked every time.
 *
 * @example
 *   const debugOn = levelGate(logger, "debug");
 *   if (debugOn()) line.metadata = redactMetadata(ctx.metadata);
 */
export function levelGate(logger: Logger, level: LogLevel): () => boolean {
  if (!plainLoggers.has(logger)) return () => logger.isLevelEnabled(level);
  let enabled = logger.isLevelEnabled(level);
  (logger as unknown as PinoInternals).on("level-change", () => {
    enabled = logger.isLevelEnabled(level);
  });
  return () => enabled;
}

/** ".001" ... ".999" without trailing zeros, and "" for 0: the decimals of a count of thousandths. */
const THOUSANDTHS = Array.from({ length: 1000 }, (_, i) => (i === 0 ? "" : `.${String(i).padStart(3, "0").replace(/0+$/, "")}`));

/**
 * A finite number as JavaScript prints it. A whole number of thousandths from 0 to 2^31 (a
 * duration in ms rounded to the microsecond) is put together from two small integers instead:
 * printing a fraction costs a shortest-digits search, and this is the same text (a decimal of
 * at most 10 significant digits, fewer than a double's 15, is the shortest that reads back as
 * its double; spec/logger.spec.ts compares with pino's own output).
 */
function numberText(value: number): string {
  const thousandths = Math.round(value * 1000);
  if (thousandths >= 0 && thousandths < 2 ** 31 && thousandths / 1000 === value) {
    return String(Math.floor(thousandths / 1000)) + (THOUSANDTHS[thousandths % 1000] as string);
  }
  return String(value);
}

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
  const epochTime = time === pino.stdTimeFunctions.epochTime;
  const stream = internals[streamSym] as { write(line: string): unknown };
  // Read once: a pino logger's properties are in dictionary mode, and reading one per line cost
  // more than the rest of the line. The level is gated by levelGate(); the bindings are those of
  // the moment (createLogger's logger has no setBindings() caller).
  const bindings = internals[chindingsSym] as string;
  const enabled = levelGate(logger, "info");
  const quotedKeys = keys.map((key) => `,${JSON.stringify(key)}:`);
  const tail = `,"msg":${JSON.stringify(msg)}${internals[endSym] as string}`;
  // pino's default time, `,"time":<epoch ms>`, made once per millisecond.
  let timeMs = -1;
  let timeText = "";
  return (values) => {
    if (!enabled()) return;
    let stamp: string;
    if (epochTime) {
      const ms = Date.now();
      if (ms !== timeMs) {
        timeMs = ms;
        timeText = `,"time":${ms}`;
      }
      stamp = timeText;
    } else stamp = time();
    let line = levelPrefix + stamp + bindings;
    for (let i = 0; i < quotedKeys.length; i++) {
      const value = values[i];
      switch (typeof value) {
        case "string":
          line += quotedKeys[i] + jsonString(value);
          break;
        case "number":
          line += quotedKeys[i] + (Number.isFinite(value) ? numberText(value) : "null");
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
