import { CallKind } from "./call-kind.js";
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

/** A server-streaming method: one request, a stream of responses (an async generator, usually). */
export type ServerStreamMethod<S extends object = object> = (request: unknown, ctx: CallContext<S>) => AsyncIterable<unknown>;

/** A client-streaming method: a stream of requests, one response (or a promise of it). */
export type ClientStreamMethod<S extends object = object> = (requests: AsyncIterable<unknown>, ctx: CallContext<S>) => unknown;

/** A bidirectional method: a stream of requests, a stream of responses. */
export type BidiMethod<S extends object = object> = (requests: AsyncIterable<unknown>, ctx: CallContext<S>) => AsyncIterable<unknown>;

/** A method with its kind: what {@link serverStream}, {@link clientStream} and {@link bidi} make. */
export interface StreamingMethod<S extends object = object> {
  readonly kind: CallKind;
  readonly handle: (request: never, ctx: CallContext<S>) => unknown;
}

/** A method of a service: a plain function is unary; a streaming one is marked by its kind. */
export type Method<S extends object = object> = UnaryMethod<S> | StreamingMethod<S>;

/**
 * Marks a server-streaming method. Stop producing when `ctx.signal` aborts (the client went
 * away or the deadline passed); a generator is also simply no longer pulled then.
 *
 * @example
 *   const Count = serverStream(async function* (request, ctx) {
 *     for (let i = 0; i < 10 && !ctx.signal.aborted; i++) yield { i };
 *   });
 */
export function serverStream<S extends object = object>(handle: ServerStreamMethod<S>): StreamingMethod<S> {
  return { kind: CallKind.SERVER_STREAM, handle };
}

/** Marks a client-streaming method: it reads `requests` with `for await` and returns the response. */
export function clientStream<S extends object = object>(handle: ClientStreamMethod<S>): StreamingMethod<S> {
  return { kind: CallKind.CLIENT_STREAM, handle };
}

/** Marks a bidirectional method: it reads `requests` and yields responses, in any rhythm. */
export function bidi<S extends object = object>(handle: BidiMethod<S>): StreamingMethod<S> {
  return { kind: CallKind.BIDI, handle };
}

/** A named set of methods, e.g. `KeyValue` with `Get` and `Put`. */
export interface ServiceDefinition<S extends object = object> {
  readonly name: string;
  readonly methods: Readonly<Record<string, Method<S>>>;
}

/** The kind of a service's method. */
export function kindOf(method: Method<never>): CallKind {
  return typeof method === "function" ? CallKind.UNARY : method.kind;
}

/**
 * Defines a service; checks the names and methods at once.
 *
 * @example
 *   const echo = defineService("Echo", { Say: (request) => request, Repeat: serverStream(repeat) });
 */
export function defineService<S extends object = object>(name: string, methods: Readonly<Record<string, Method<S>>>): ServiceDefinition<S> {
  if (typeof name !== "string" || name === "") throw new TypeError("defineService(): name must be a non-empty string");
  for (const [method, fn] of Object.entries(methods)) {
    const streaming = fn !== null && typeof fn === "object" && typeof fn.handle === "function" && typeof fn.kind === "string";
    if (typeof fn !== "function" && !streaming) throw new TypeError(`defineService(): ${name}/${method} is not a function or a streaming method`);
  }
  return { name, methods };
}

/** A {@link router}: a handler that also lists its methods, for `Application.describe()` and hosts. */
export type Router<S extends object = object> = Handler<S> & {
  /** "Service/Method" names, in the order the services define them. */
  readonly methods: readonly string[];
  /** The kind of "Service/Method", undefined for an unknown method: how a host reads the call's wire messages. */
  kindOf(service: string, method: string): CallKind | undefined;
};

/** A method as the router keeps it. */
interface Route {
  readonly kind: CallKind;
  readonly handle: (request: unknown, ctx: CallContext) => unknown;
}

/**
 * The handler that dispatches a call to its service's method; an unknown service or method,
 * or a method called as another kind than its own, ends the call with UNIMPLEMENTED (thrown).
 * A unary method answers in `ctx.response`; a streaming one's stream goes there (see
 * docs/streams.md). It returns a promise only when the method did.
 *
 * @example
 *   app.handle(router([keyValueService(), echo]));
 */
export function router<S extends object = object>(services: readonly ServiceDefinition<S>[]): Router<S> {
  const table = new Map<string, Map<string, Route>>();
  for (const service of services) {
    if (table.has(service.name)) throw new TypeError(`router(): service ${service.name} is defined twice`);
    const routes = new Map<string, Route>();
    for (const [name, method] of Object.entries(service.methods)) {
      routes.set(name, typeof method === "function" ? { kind: CallKind.UNARY, handle: method as Route["handle"] } : { kind: method.kind, handle: method.handle as Route["handle"] });
    }
    table.set(service.name, routes);
  }
  const methods = Object.freeze(services.flatMap((service) => Object.keys(service.methods).map((method) => `${service.name}/${method}`)));
  const kindOf = (service: string, method: string): CallKind | undefined => table.get(service)?.get(method)?.kind;
  // Synchronous when the method answers synchronously: no promise, no microtask.
  return Object.assign(function route(ctx: CallContext<S>): Promise<void> | void {
    const method = table.get(ctx.service)?.get(ctx.method);
    if (method === undefined) throw new StatusError(Status.UNIMPLEMENTED, `unknown method ${ctx.service}/${ctx.method}`);
    if (method.kind !== ctx.kind) throw new StatusError(Status.UNIMPLEMENTED, `${ctx.service}/${ctx.method} is a ${method.kind} method, called as ${ctx.kind}`);
    const response = method.handle(ctx.request, ctx as CallContext);
    if (isThenable(response)) return respondLater(ctx, response);
    ctx.response = response;
  }, { methods, kindOf });
}

async function respondLater(ctx: CallContext, pending: PromiseLike<unknown>): Promise<void> {
  ctx.response = await pending;
}
