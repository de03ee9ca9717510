import { Status } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import type { Clock } from "./clock.js";

/** The moment a call must be over by, on the clock that enforces it. */
export class Deadline {
  /** The clock's time at which the call's signal aborts. */
  readonly at: number;
  readonly #clock: Clock;

  constructor(at: number, clock: Clock) {
    this.at = at;
    this.#clock = clock;
  }

  /** Milliseconds left, never below 0. */
  remainingMs(): number {
    return Math.max(0, this.at - this.#clock.now());
  }
}

/**
 * What {@link withDeadline} reads and sets on a call: a `ClientCallContext` is one. Declared
 * here, not imported, so that the context can name {@link Deadline} without a circle.
 */
export interface DeadlineScope {
  signal: AbortSignal | undefined;
  deadline: Deadline | undefined;
  fail(error: StatusError): void;
}

/**
 * Runs `run` with a deadline `timeoutMs` from now: `ctx.signal` becomes a signal that aborts
 * with a DEADLINE_EXCEEDED StatusError when the time is up (or with the outer signal's reason
 * when that aborts first), and `ctx.deadline` says when. Both are restored afterwards, and the
 * timer and listener are released in `finally` whatever happened, so a call that ends early
 * leaves nothing running.
 *
 * Deadlines only shrink: inside an earlier deadline this one changes nothing, as in gRPC and
 * Go's context. Layers stop at the deadline by honouring `ctx.signal` (the transports do).
 */
export async function withDeadline(ctx: DeadlineScope, timeoutMs: number, clock: Clock, run: () => Promise<void>): Promise<void> {
  const outer = ctx.signal;
  const outerDeadline = ctx.deadline;
  if (outerDeadline !== undefined && outerDeadline.remainingMs() <= timeoutMs) return run();
  if (outer?.aborted) return ctx.fail(StatusError.from(outer.reason));

  const controller = new AbortController();
  const onOuterAbort = (): void => controller.abort(outer?.reason);
  const timer = clock.setTimeout(() => controller.abort(new StatusError(Status.DEADLINE_EXCEEDED, `deadline of ${timeoutMs} ms exceeded`)), timeoutMs);
  outer?.addEventListener("abort", onOuterAbort, { once: true });
  ctx.signal = controller.signal;
  ctx.deadline = new Deadline(clock.now() + timeoutMs, clock);
  try {
    await run();
  } finally {
    clock.clearTimeout(timer);
    outer?.removeEventListener("abort", onOuterAbort);
    ctx.signal = outer;
    ctx.deadline = outerDeadline;
  }
}

/** Checks a timeout option: a finite number of milliseconds above 0. */
export function checkTimeoutMs(value: unknown, where: string): number {
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) throw new TypeError(`${where}: timeoutMs must be a finite number of milliseconds > 0`);
  return value;
}

/**
 * A budget in gRPC's `grpc-timeout` form: at most 8 digits and a unit, here `m` (milliseconds)
 * while it fits, else `S` (seconds) or `M` (minutes). Rounds up, so a budget is never sent as
 * already spent while the client still waits.
 */
export function encodeTimeout(ms: number): string {
  const millis = Math.max(0, Math.ceil(ms));
  if (millis < 1e8) return `${millis}m`;
  const seconds = Math.ceil(millis / 1000);
  if (seconds < 1e8) return `${seconds}S`;
  return `${Math.min(99_999_999, Math.ceil(seconds / 60))}M`;
}
