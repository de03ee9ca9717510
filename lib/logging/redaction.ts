import type RedactFactory from "@pinojs/redact";
import { requireCommonJs } from "../core/require-common-js.js";

/** @pinojs/redact, loaded with require() for start-up time (see requireCommonJs). */
const Redact: typeof RedactFactory = requireCommonJs("@pinojs/redact");

/** A log line's redaction by pino's path syntax; see {@link lineRedactor}. */
export interface LineRedactor {
  /** A copy of `line` with every value at a redaction path replaced by "[REDACTED]"; `line` itself when there are no paths. */
  redact(line: Record<string, unknown>): Record<string, unknown>;
  /** Top-level fields censored whole (a path that is just `client`, or `*`), for lines built as text. */
  readonly censoredFields: ReadonlySet<string> | "*";
}

const CENSOR = "[REDACTED]";

/** The first segment of a path (`metadata` of `metadata["x-a"]`, `x-a` of `["x-a"].b`) and whether it is the whole path. */
function firstSegment(path: string): { readonly name: string; readonly whole: boolean } {
  const bracket = /^\[\s*(["'])(.*?)\1\s*\]/.exec(path);
  if (bracket !== null) return { name: bracket[2] as string, whole: bracket[0].length === path.length };
  const end = path.search(/[.[]/);
  return end === -1 ? { name: path, whole: true } : { name: path.slice(0, end), whole: false };
}

/**
 * Redaction of log lines by pino's path syntax (`request.password`, `metadata["x-session"]`,
 * `request.*.token`), with @pinojs/redact, the library pino's own `redact` option runs on:
 * the same paths mean the same thing here and in a pino logger's options. Lines are copied, never
 * changed in place (a line may hold the request the handler still reads). Throws a TypeError,
 * prefixed by `caller`, for a path it cannot read.
 *
 * @example
 *   const { redact } = lineRedactor(["request.password"], "logging()");
 *   logger.info(redact({ request: { user: "a", password: "p" } })); // password: "[REDACTED]"
 */
export function lineRedactor(paths: readonly string[], caller: string): LineRedactor {
  if (!Array.isArray(paths) || paths.some((path) => typeof path !== "string" || path.trim() === "")) {
    throw new TypeError(`${caller}: redact must be a list of paths`);
  }
  if (paths.length === 0) return { redact: (line) => line, censoredFields: new Set() };
  let redactFn: (line: Record<string, unknown>) => unknown;
  try {
    redactFn = Redact({ paths: [...paths], censor: CENSOR, serialize: false, strict: false });
  } catch (error) {
    throw new TypeError(`${caller}: redact: ${(error as Error).message}`);
  }
  const whole = paths.map(firstSegment).filter((segment) => segment.whole).map((segment) => segment.name);
  return {
    redact: (line) => redactFn(line) as Record<string, unknown>,
    censoredFields: whole.includes("*") ? "*" : new Set(whole),
  };
}
