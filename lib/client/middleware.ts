import type { Next } from "../core/middleware.js";
import type { ClientCallContext } from "./call-context.js";

/** Marks, at the type level only, the state a client middleware adds for those after it. */
declare const adds: unique symbol;

/** The property {@link resending} sets on a middleware that calls next() more than once. */
export const RESENDS: unique symbol = Symbol("rpc-interceptors.resends");

/**
 * An outbound middleware: `async (ctx, next) => { ...before; await next(); ...after }`, the
 * same shape as the server's, over a {@link ClientCallContext}.
 *
 * Middleware run in the order they were `use`d, the first closest to the application and the
 * last closest to the network. `next()` sends the call on through the rest; it never rejects,
 * and the outcome (`ctx.status`, `ctx.response`) is there when it returns. Not calling it
 * answers the call from here (a cache hit); throwing a StatusError fails it with that status.
 *
 * `Needs` is the state it reads, `Adds` what it puts into `ctx.state`; `Client.use()` widens
 * the client's state type by `Adds`.
 */
export type ClientMiddleware<Needs extends object = object, Adds extends object = object> =
  ((ctx: ClientCallContext<Needs & Partial<Adds>>, next: Next) => Promise<void> | void) & {
    readonly [adds]?: Adds;
    readonly [RESENDS]?: true;
  };

/**
 * Declares that `middleware` may call `next()` again once the previous call has settled, each
 * time sending the call afresh through the layers inside it (that is how `retry()` works).
 * Every other middleware gets koa-compose's one `next()` per call.
 *
 * @example
 *   const hedgeOnce = resending(async function hedgeOnce(ctx, next) {
 *     await next();
 *     if (ctx.status === Status.UNAVAILABLE) await next();
 *   });
 */
export function resending<M extends (...args: never[]) => unknown>(middleware: M): M {
  return Object.defineProperty(middleware, RESENDS, { value: true, enumerable: false });
}
