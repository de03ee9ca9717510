import type { CallContext } from "./context.js";
import type { KoaContext } from "./host-context.js";

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

/**
 * A middleware that runs in both hosts: in an {@link Application} (a {@link Middleware} adding
 * `Adds` to the state) and in a Koa app's `app.use()`, unchanged. `auth`, `rateLimit`,
 * `logging`, and `when()`/`unless()` of them, are portable.
 *
 * It tells the hosts apart by `ctx instanceof CallContext` (one prototype check, no allocation),
 * reads the request with `requestHeader()` and `clientOf()` (lib/core/host-context.ts), and fails by throwing
 * a StatusError: the RPC pipeline answers with its status; Koa's own `ctx.onerror` reads the
 * error's `statusCode`, `expose` and `headers` (the http-errors convention) and answers with the
 * HTTP status of the google.rpc.Code mapping (UNAUTHENTICATED 401, RESOURCE_EXHAUSTED 429, ...).
 *
 * @example
 *   function requireHeader(name: string): PortableMiddleware {
 *     return async function require_header(ctx: CallContext | KoaContext, next: Next) {
 *       if (requestHeader(ctx, name) === undefined) throw new StatusError(Status.INVALID_ARGUMENT, `${name} is required`);
 *       await next();
 *     };
 *   }
 */
export type PortableMiddleware<Needs extends object = object, Adds extends object = object> = {
  // One generic call signature, no intersection: Koa's app.use() then infers no context
  // extension from it, so `new Koa().use(auth(...))` is still typed `Koa`.
  <C extends CallContext<Needs & Partial<Adds>> | KoaContext>(ctx: C, next: Next): Promise<void>;
  readonly [adds]?: Adds;
};

/** The end of the pipeline: sets `ctx.response` (and `ctx.status` for a non-OK answer). */
export type Handler<S extends object = object> = (ctx: CallContext<S>) => Promise<void> | void;

/**
 * What a middleware says about one method for `Application.describe()` (authorize: the scopes
 * it needs), undefined for nothing. A middleware offers it as its `describeMethod` property.
 */
export type MethodNotes = (method: { readonly service: string; readonly method: string }) => string | undefined;
