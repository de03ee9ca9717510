import { isStatusName, Status, statusCode, type StatusName } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { type MethodRef, type MethodSelector, methodMatcher } from "../core/when.js";

/** One fault to inject into the calls a selector picks: a delay, an abort, or both. */
export interface FaultRule {
  /** The methods it applies to. Default: every method. */
  readonly methods?: MethodSelector;
  /** Holds the call this long before it goes on. */
  readonly delayMs?: number;
  /** The share of calls delayed, 0-100. Default 100 when `delayMs` is given. */
  readonly delayPercent?: number;
  /** Ends the call with this status instead of going on ("UNAVAILABLE", ...). */
  readonly abort?: StatusName;
  /** The share of calls aborted, 0-100. Default 100 when `abort` is given. */
  readonly abortPercent?: number;
}

/** Options shared by the server's and the client's `faults()`. */
export interface FaultOptions {
  /** The faults, each for the methods it selects; every rule that selects a call applies, in order. */
  readonly rules?: readonly FaultRule[];
  /**
   * Honour faults asked for by the call's own metadata, as Envoy's fault filter honours its
   * headers: `x-fault-delay-ms`, `x-fault-delay-percent`, `x-fault-abort` (a status name or
   * code), `x-fault-abort-percent`. For tests against a running service: any caller can then
   * slow or fail its own calls, so only where the operator allows it. Default false.
   */
  readonly fromMetadata?: boolean;
  /** The longest delay metadata may ask for. Default 10,000 ms. */
  readonly maxMetadataDelayMs?: number;
  /** Uniform in [0, 1): decides which calls a percentage picks. Default Math.random. */
  readonly random?: () => number;
}

/** What to do to one call: wait `delayMs` (0: not at all), then fail with `abort` if set. */
export interface FaultDecision {
  readonly delayMs: number;
  readonly abort: StatusError | undefined;
}

const NONE: FaultDecision = Object.freeze({ delayMs: 0, abort: undefined });
const CODES = new Map<number, StatusName>(Object.entries(statusCode).map(([name, code]) => [code, name as StatusName]));

function percent(value: number | undefined, given: boolean, what: string): number {
  const v = value ?? (given ? 100 : 0);
  if (!Number.isFinite(v) || v < 0 || v > 100) throw new TypeError(`faults(): ${what} must be a number from 0 to 100, got ${String(value)}`);
  return v;
}

/** The metadata's status: a name or a numeric code; INVALID_ARGUMENT for anything else. */
function statusOf(raw: string): StatusName {
  const upper = raw.trim().toUpperCase();
  if (isStatusName(upper)) return upper;
  const byCode = /^\d+$/.test(upper) ? CODES.get(Number(upper)) : undefined;
  if (byCode === undefined) throw new StatusError(Status.INVALID_ARGUMENT, "x-fault-abort is not a status name or code");
  return byCode;
}

function metadataNumber(raw: string | undefined, name: string, max: number, fallback: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (raw.trim() === "" || !Number.isFinite(n) || n < 0 || n > max) throw new StatusError(Status.INVALID_ARGUMENT, `${name} must be a number from 0 to ${max}`);
  return n;
}

/**
 * The fault rules made ready, deciding per call what to inject: the server's and the
 * client's `faults()` differ only in how they wait and fail.
 */
export class FaultPlan {
  readonly #rules: readonly { readonly applies: (method: MethodRef) => boolean; readonly rule: FaultRule; readonly delayPercent: number; readonly abortPercent: number }[];
  readonly #fromMetadata: boolean;
  readonly #maxDelayMs: number;
  readonly #random: () => number;

  constructor(options: FaultOptions, caller: string) {
    const rules = options?.rules ?? [];
    if (!Array.isArray(rules)) throw new TypeError(`${caller}: rules must be a list`);
    this.#rules = rules.map((rule: FaultRule) => {
      if (rule.delayMs !== undefined && !(Number.isFinite(rule.delayMs) && rule.delayMs >= 0)) throw new TypeError(`${caller}: delayMs must be a number >= 0`);
      if (rule.abort !== undefined && (!isStatusName(rule.abort) || rule.abort === Status.OK)) throw new TypeError(`${caller}: abort must be an error status name, got ${String(rule.abort)}`);
      if (rule.delayMs === undefined && rule.abort === undefined) throw new TypeError(`${caller}: a rule needs delayMs, abort, or both`);
      return {
        applies: rule.methods === undefined ? () => true : methodMatcher(rule.methods, caller),
        rule,
        delayPercent: percent(rule.delayPercent, rule.delayMs !== undefined, "delayPercent"),
        abortPercent: percent(rule.abortPercent, rule.abort !== undefined, "abortPercent"),
      };
    });
    this.#fromMetadata = options?.fromMetadata === true;
    this.#maxDelayMs = options?.maxMetadataDelayMs ?? 10_000;
    this.#random = options?.random ?? Math.random;
    if (typeof this.#random !== "function") throw new TypeError(`${caller}: random must be a function`);
  }

  /** Whether the plan can ever inject anything. */
  get empty(): boolean {
    return this.#rules.length === 0 && !this.#fromMetadata;
  }

  /** What to inject into a call to `method` carrying `metadata` (read only with `fromMetadata`). */
  decide(method: MethodRef, metadata: (name: string) => string | undefined): FaultDecision {
    let delayMs = 0;
    let abort: StatusName | undefined;
    for (const { applies, rule, delayPercent, abortPercent } of this.#rules) {
      if (!applies(method)) continue;
      if (rule.delayMs !== undefined && this.#picks(delayPercent)) delayMs += rule.delayMs;
      if (abort === undefined && rule.abort !== undefined && this.#picks(abortPercent)) abort = rule.abort;
    }
    if (this.#fromMetadata) {
      const delay = metadataNumber(metadata("x-fault-delay-ms"), "x-fault-delay-ms", this.#maxDelayMs, 0);
      if (delay > 0 && this.#picks(metadataNumber(metadata("x-fault-delay-percent"), "x-fault-delay-percent", 100, 100))) delayMs += delay;
      const asked = metadata("x-fault-abort");
      if (abort === undefined && asked !== undefined) {
        const status = statusOf(asked);
        if (status !== Status.OK && this.#picks(metadataNumber(metadata("x-fault-abort-percent"), "x-fault-abort-percent", 100, 100))) abort = status;
      }
    }
    if (delayMs === 0 && abort === undefined) return NONE;
    return { delayMs, abort: abort === undefined ? undefined : new StatusError(abort, "fault injected", { details: { fault: "abort" } }) };
  }

  #picks(percentage: number): boolean {
    return percentage >= 100 || (percentage > 0 && this.#random() * 100 < percentage);
  }
}
