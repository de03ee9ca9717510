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
