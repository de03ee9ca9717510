import { RESOLVED } from "../lib/core/layers.js";

/**
 * Whether `done`, the promise `next()` returned, is known to be fulfilled already: the one
 * settled promise the Application's layers give back when everything under them finished
 * synchronously (an in-memory limiter, a synchronous handler: bin/node's hot path).
 *
 * A middleware with work to do after its downstream (logging's line, metrics' counts) does it
 * at once then and returns `done` itself, which the Application takes for a tail call
 * (lib/core/tail-call.ts): its layer ends with no await and no async frame, and so does every
 * layer in front of it that tail-calls too (`tracing()` with no SDK). Otherwise it awaits
 * `done` as an async middleware would. Either way the outcome is the same; only the cost
 * differs (measured: an awaited layer costs about 1,100 instructions of a ~14,500-instruction
 * call through bin/node's chain, in bench/observability.ts).
 *
 * Sound for any promise: `false` only means "not known", and the caller then awaits.
 * spec/middleware/finished-already.spec.ts pins that bin/node's chain still takes the fast path.
 *
 * @example
 *   function timed(ctx: CallContext, next: Next): Promise<void> {
 *     const start = now();
 *     const done = next();
 *     if (finishedAlready(done)) {
 *       record(ctx, start);
 *       return done;
 *     }
 *     return recordWhenSettled(ctx, done, start); // an async function: try { await done } finally { record(ctx, start) }
 *   }
 */
export function finishedAlready(done: Promise<void>): boolean {
  return done === RESOLVED;
}
