import type { CallContext } from "./context.js";

/** Runs the rest of the pipeline; resolves when it has finished (or rejects with its error). */
export type Next = () => Promise<void>;

/** Marks, at the type level only, the state a middleware adds for those after it. */
declare const adds: unique symbol;

/**
 * A middleware: `async (ctx, next) => { ...before; await next(); ...after }`.
 * Call `next()` once to go on, or not at all to end the call (throw a StatusError to fail it).
 *
 * `Needs` is the state it reads (added by middleware before it), `Adds` what it puts into
 * `ctx.state` for the middleware and handler after it; `Application.use()` widens the
 * application's state type by `Adds`.
 *
 * @example
 *   const tenant: Middleware<{ principal: Principal }, { tenant: string }> = async function tenant(ctx, next) {
 *     ctx.state.tenant = ctx.state.principal.subject.split("/")[0] ?? "";
 *     await next();
 *   };
 */
export type Middleware<Needs extends object = object, Adds extends object = object> =
  ((ctx: CallContext<Needs & Partial<Adds>>, next: Next) => Promise<void> | void) & { readonly [adds]?: Adds };

/** The end of the pipeline: sets `ctx.response` (and `ctx.status` for a non-OK answer). */
export type Handler<S extends object = object> = (ctx: CallContext<S>) => Promise<void> | void;
