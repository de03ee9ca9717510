import { pino } from "pino";
import type { LogLevel } from "../../lib/logging/log-levels.js";

/** A real pino logger whose JSON lines are kept in memory instead of written to stderr. */
export interface CapturedLogger {
  readonly logger: pino.Logger;
  /** Every line written so far, as text. */
  readonly lines: string[];
  /** The lines parsed. */
  records(): Record<string, unknown>[];
}

/**
 * A pino logger at `level` writing into an array, so a spec can check both what is logged and
 * the exact text that would reach stderr (a secret must not appear in it, in any form).
 */
export function captureLogger(level: LogLevel = "info"): CapturedLogger {
  const lines: string[] = [];
  const logger = pino({ level, base: null }, { write: (line: string) => void lines.push(line) });
  return {
    logger,
    lines,
    records: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
