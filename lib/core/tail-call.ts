import { RESOLVED } from "./layers.js";
import type { Next } from "./middleware.js";

/**
 * Goes on with the rest of the pipeline as a middleware's last act, for a middleware with
 * nothing to do after its downstream: `return tailCall(next)` where an async middleware would
 * end with `await next()`. The outcome is the same (the call's status, its errors, their
 * attribution); the cost is lower: the {@link Application} sees the tail call and lets the
 * middleware's layer leave with its downstream, with no await and no async frame of its own
 * (measured: those two awaits cost 6-11% of bin/node's CPU).
 *
 * The contract, which spec/core/tail-call.spec.ts pins: it returns the very promise next()
 * returned. The Application's layers (lib/core/layers.ts) recognise a tail call by that
 * identity (the promise a middleware returned is the one the layer under it gave back), which
 * holds because koa-compose's next() hands back its layer's promise unchanged. A middleware that returns anything else, an async
 * function's own promise included, is awaited like any other: correct, one await dearer.
 *
 * Write the middleware as a plain function that never throws: errors become a rejected promise.
 *
 * @example
 *   function tenant(ctx: CallContext<{ tenant?: string }>, next: Next): Promise<void> {
 *     try {
 *       ctx.state.tenant = tenantOf(ctx.metadata.get("x-tenant"));
 *       return tailCall(next);
 *     } catch (error) {
 *       return Promise.reject(error);
 *     }
 *   }
 */
export function tailCall(next: Next): Promise<void> {
  // Promise.resolve returns a native promise as it is: the identity the contract needs.
  return Promise.resolve(next());
}

/**
 * Whether `done`, the promise `next()` returned, is known to be fulfilled already: the one
 * settled promise the Application's layers give back when everything under them finished
 * synchronously (an in-memory limiter, a synchronous handler: bin/node's hot path).
 *
 * A middleware with work to do after its downstream (logging's line, metrics' counts) does it
 * at once then and returns `done` itself, which the Application takes for a tail call
 * (see tailCall above): its layer ends with no await and no async frame, and so does every
 * layer in front of it that tail-calls too (`tracing()` with no SDK). Otherwise it awaits
 * `done` as an async middleware would. Either way the outcome is the same; only the cost
 * differs (measured: an awaited layer costs about 1,100 instructions of a ~14,500-instruction
 * call through bin/node's chain, in bench/observability.ts).
 *
 * Sound for any promise: `false` only means "not known", and the caller then awaits.
 * spec/core/finished-already.spec.ts pins that bin/node's chain still takes the fast path.
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
