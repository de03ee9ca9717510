import { performance } from "node:perf_hooks";
import { type CallContext, callInternals } from "../core/context.js";

/**
 * The clock of the middleware that time calls (logging's `ms`, metrics' handling time), shared
 * so that middleware nested in one chain read it once per edge of a call instead of once each:
 * a reading of the call entering (or leaving) its layers serves every layer that enters (or
 * leaves) in the same synchronous stretch. A clock read costs ~45 ns on the 2-core development
 * VM, 3% of a call through bin/node's chain; metrics() around logging() saves two per call.
 *
 * The contract, for each timing middleware of a call `ctx`:
 * - `entered(ctx)` before calling next();
 * - when next() returned a promise already settled (finishedAlready, lib/core/tail-call.ts), `left(ctx)`: the
 *   layers under it left in this stretch, and one of them may have read the clock already;
 * - otherwise `suspended(ctx)` at once, and a fresh `now()` once the downstream settles: a
 *   reading kept across a suspension would be stale.
 *
 * The reading is kept on the call (lib/core/context.ts), and stands from the `entered()` that
 * made it until that layer's next() has returned (its `left()` or `suspended()`): a layer
 * inside that enters in the meantime entered synchronously, in no time worth counting, and one
 * reached later (a middleware between them awaited) finds it gone and reads afresh. A `left()`
 * reading serves the layers outside it whose next() finished in the same stretch. Readings of
 * one clock never serve another.
 */
export class CallClock {
  readonly #now: () => number;

  /** `now` is a millisecond clock, by default performance.now. */
  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  /** A reading of the clock of its own, for an edge in a stretch of its own. */
  now(): number {
    return this.#now();
  }

  /** When `call` entered: an outer layer's reading from this stretch, else a new one. */
  entered(call: CallContext): number {
    return callInternals.edgeReading(call, this, false) ?? this.#read(call, false);
  }

  /** When `call` left, its downstream finished in this stretch: an inner layer's reading, else a new one. */
  left(call: CallContext): number {
    return callInternals.edgeReading(call, this, true) ?? this.#read(call, true);
  }

  /** `call`'s downstream goes on later: its readings are forgotten. */
  suspended(call: CallContext): void {
    callInternals.forgetEdgeReading(call, this);
  }

  #read(call: CallContext, leaving: boolean): number {
    const at = this.#now();
    callInternals.setEdgeReading(call, this, leaving, at);
    return at;
  }
}

/** The clock logging() and metrics() share unless given a `now` of their own. */
export const callClock = new CallClock();

/** The clock of a timing middleware: `callClock`, or one of its own over the `now` it was given. */
export function clockOf(now: (() => number) | undefined): CallClock {
  return now === undefined ? callClock : new CallClock(now);
}
