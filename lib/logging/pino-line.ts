import type * as PinoModule from "pino";
import { requireCommonJs } from "../core/require-common-js.js";
import type { LogLevel } from "./log-levels.js";
import { isPlainPino, type Logger } from "./logger.js";

/** pino, loaded with require() for start-up time (see requireCommonJs). */
const { pino }: typeof PinoModule = requireCommonJs("pino");

// pino's line format rebuilt as text for the loggers createLogger makes: what reads pino's
// internals (its integration symbols, `pino.symbols`) lives here and nowhere else.

/** A scalar field of a fixed-shape log line; undefined leaves the field out. */
export type InfoLineValue = string | number | boolean | undefined;

/** Logs one info line of fixed keys; the values are those of the keys, in order. */
export type WriteInfoLine = (values: readonly InfoLineValue[]) => void;

const INFO = 30;
const NOTHING: ReadonlySet<string> = new Set();
const CENSORED = "[REDACTED]";
const CENSORED_TEXT = JSON.stringify(CENSORED);
const { chindingsSym, endSym, lsCacheSym, mixinSym, streamSym, timeSym } = pino.symbols;

/** A pino logger's state under its documented integration symbols (`pino.symbols`). */
type PinoInternals = Record<symbol, unknown> & { on(event: "level-change", listener: () => void): unknown };

/**
 * `() => logger.isLevelEnabled(level)`, answered from a cached flag for a logger made by
 * createLogger: pino reads the level from the logger's properties, which are in dictionary
 * mode, and that lookup per call is a measured cost of its own. The flag follows pino's
 * level-change event. Any other logger is asked every time.
 *
 * @example
 *   const debugOn = levelGate(logger, "debug");
 *   if (debugOn()) line.metadata = redactMetadata(ctx.metadata);
 */
export function levelGate(logger: Logger, level: LogLevel): () => boolean {
  if (!isPlainPino(logger)) return () => logger.isLevelEnabled(level);
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
 * its double; spec/logging/pino-line.spec.ts compares with pino's own output).
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

/** A scalar as pino prints a field's value: a JSON string, a finite number, null, true or false. */
function scalarText(value: string | number | boolean): string {
  switch (typeof value) {
    case "string":
      return jsonString(value);
    case "number":
      return Number.isFinite(value) ? numberText(value) : "null";
    default:
      return String(value);
  }
}

/**
 * The fields of a mixin's object as pino writes them before the line's own (`,"k":v` each), or
 * undefined when they cannot be written so: a value that is not a scalar, or a key the line
 * also has (pino would then put the line's value in the mixin key's place).
 */
function mixinText(fields: object, lineKeys: ReadonlySet<string>): string | undefined {
  let text = "";
  for (const key in fields) {
    if (!Object.hasOwn(fields, key)) continue;
    const value: unknown = (fields as Record<string, unknown>)[key];
    if (value === undefined || typeof value === "function") continue;
    if ((typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") || lineKeys.has(key)) return undefined;
    text += `,${jsonString(key)}:${scalarText(value)}`;
  }
  return text;
}

/**
 * A writer of one info line of scalar fields: `write(values)` prints what
 * `logger.info({ [keys[i]]: values[i], ... }, msg)` prints. For a logger made by createLogger
 * the line is built here, as text, the way pino builds it (its level and time prefix, its
 * bindings, its mixin's fields, the fields, the message) and handed to its stream (measured:
 * pino's generic formatting of an object, a `for...in` over it, a type switch and a key quoted
 * per field, costs about a tenth of bin/node's CPU time at one line per call). Any other logger
 * (a child, a user's pino with serializers or redaction, something else) gets `logger.info()`,
 * and so does a line whose mixin fields are not scalars. A field named in `censored` (or every
 * field, for "*") is written as "[REDACTED]" whatever its value, in both, so that logging()'s
 * `redact` paths hold for this line too.
 *
 * A mixin (createLogger's `mixin`, e.g. `traceLogFields`) is called once per line written, as
 * pino calls it, and its fields come first, as pino merges them: a traced call's line carries
 * its `trace_id` and `span_id` on this path too.
 *
 * @example
 *   const write = infoLineWriter(logger, "call", ["service", "status", "ms"]);
 *   write(["KeyValue", "OK", 0.041]); // {"level":30,"time":...,"pid":...,"service":"KeyValue","status":"OK","ms":0.041,"msg":"call"}
 */
export function infoLineWriter(logger: Logger, msg: string, keys: readonly string[], censored: ReadonlySet<string> | "*" = NOTHING): WriteInfoLine {
  const hidden = keys.map((key) => censored === "*" || censored.has(key));
  const viaInfo: WriteInfoLine = (values) => {
    const fields: Record<string, InfoLineValue> = {};
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i] as string;
      if (values[i] !== undefined) fields[key] = hidden[i] === true ? CENSORED : values[i];
    }
    logger.info(fields, msg);
  };
  if (!isPlainPino(logger)) return viaInfo;
  const internals = logger as unknown as PinoInternals;
  const levelPrefix = (internals[lsCacheSym] as Record<number, string>)[INFO] as string;
  const time = internals[timeSym] as () => string;
  const epochTime = time === pino.stdTimeFunctions.epochTime;
  const stream = internals[streamSym] as { write(line: string): unknown };
  const mixin = internals[mixinSym] as (() => object) | undefined;
  const lineKeys: ReadonlySet<string> = new Set(keys);
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
    if (mixin !== undefined) {
      const mixed = mixinText(mixin(), lineKeys);
      if (mixed === undefined) return viaInfo(values);
      line += mixed;
    }
    for (let i = 0; i < quotedKeys.length; i++) {
      const value = values[i];
      if (value === undefined) continue;
      line += quotedKeys[i] + (hidden[i] === true ? CENSORED_TEXT : scalarText(value));
    }
    stream.write(line + tail);
  };
}
