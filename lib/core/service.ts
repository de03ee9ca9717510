import type { CallContext } from "./context.js";
import type { Handler } from "./middleware.js";
import { Status } from "./status.js";
import { StatusError } from "./status-error.js";
import { isThenable } from "./thenable.js";

/**
 * A unary method: takes the request, returns the response. It may set `ctx.status` for an
 * answer that is not OK but still carries a response (a NOT_FOUND with details, say), or throw a
 * StatusError to fail the call without one.
 */
export type UnaryMethod<S extends object = object> = (request: unknown, ctx: CallContext<S>) => unknown;

/** A named set of methods, e.g. `KeyValue` with `Get` and `Put`. */
export interface ServiceDefinition<S extends object = object> {
  readonly name: string;
  readonly methods: Readonly<Record<string, UnaryMethod<S>>>;
}

/**
 * Defines a service; checks the names and methods at once.
 *
 * @example
 *   const echo = defineService("Echo", { Say: (request) => request });
 */
export function defineService<S extends object = object>(name: string, methods: Readonly<Record<string, UnaryMethod<S>>>): ServiceDefinition<S> {
  if (typeof name !== "string" || name === "") throw new TypeError("defineService(): name must be a non-empty string");
  for (const [method, fn] of Object.entries(methods)) {
    if (typeof fn !== "function") throw new TypeError(`defineService(): ${name}/${method} is not a function`);
  }
  return { name, methods };
}

/** A {@link router}: a handler that also lists its methods, for `Application.describe()`. */
export type Router<S extends object = object> = Handler<S> & {
  /** "Service/Method" names, in the order the services define them. */
  readonly methods: readonly string[];
};

/**
 * The handler that dispatches a call to its service's method; an unknown service or method
 * ends the call with UNIMPLEMENTED (thrown). It returns a promise only when the method did.
 *
 * @example
 *   app.handle(router([keyValueService(), echo]));
 */
export function router<S extends object = object>(services: readonly ServiceDefinition<S>[]): Router<S> {
  const table = new Map<string, Map<string, UnaryMethod<S>>>();
  for (const service of services) {
    if (table.has(service.name)) throw new TypeError(`router(): service ${service.name} is defined twice`);
    table.set(service.name, new Map(Object.entries(service.methods)));
  }
  const methods = Object.freeze(services.flatMap((service) => Object.keys(service.methods).map((method) => `${service.name}/${method}`)));
  // Synchronous when the method answers synchronously: no promise, no microtask.
  return Object.assign(function route(ctx: CallContext<S>): Promise<void> | void {
    const method = table.get(ctx.service)?.get(ctx.method);
    if (method === undefined) throw new StatusError(Status.UNIMPLEMENTED, `unknown method ${ctx.service}/${ctx.method}`);
    const response = method(ctx.request, ctx);
    if (isThenable(response)) return respondLater(ctx, response);
    ctx.response = response;
  }, { methods });
}

async function respondLater(ctx: CallContext, pending: PromiseLike<unknown>): Promise<void> {
  ctx.response = await pending;
}
