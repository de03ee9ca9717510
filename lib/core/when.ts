import { CallContext } from "./context.js";
import type { HostContext } from "./host-context.js";
import type { Middleware, Next, PortableMiddleware } from "./middleware.js";

/** The method a call is for. A {@link CallContext} is one; in Koa it is read from the path. */
export interface MethodRef {
  readonly service: string;
  readonly method: string;
}

/**
 * Which methods a middleware applies to:
 * - `"Service/Method"`: that method; `"Service/*"`: every method of the service; `"*"`: all;
 * - a list of those: any one matches;
 * - a function of the {@link MethodRef}: true to apply.
 *
 * In Koa the request path stands for the method, as gRPC maps a method to the HTTP path
 * `/Service/Method`: `/health` is service `health` with method `""` (matched by `"health/*"`),
 * `/kv/a/b` is service `kv` with method `a/b`.
 */
export type MethodSelector = string | readonly string[] | ((method: MethodRef) => boolean);

/** What {@link when} and {@link unless} attach to the middleware they return; read by Application. */
export interface Selection {
  /** Whether the middleware applies to a method. */
  readonly applies: (method: MethodRef) => boolean;
  /** The middleware selected, itself unselected. */
  readonly middleware: Middleware;
  /** The selection as text for describe(): `when KeyValue/Put`, `unless Health/*`. */
  readonly description: string;
}

const SELECTION = Symbol("rpc-interceptors.selection");
const ALL = "*";

function compile(selector: MethodSelector, caller: string): (method: MethodRef) => boolean {
  if (typeof selector === "function") return selector;
  const patterns: readonly unknown[] = typeof selector === "string" ? [selector] : selector;
  if (!Array.isArray(patterns) || patterns.length === 0) throw new TypeError(`${caller}: selector must be a pattern, a non-empty list of patterns or a function`);
  // service -> its selected methods, or ALL; built once so a call costs two Map/Set lookups.
  const table = new Map<string, Set<string> | typeof ALL>();
  let everything = false;
  for (const pattern of patterns) {
    if (pattern === ALL) {
      everything = true;
      continue;
    }
    const slash = typeof pattern === "string" ? pattern.indexOf("/") : -1;
    if (typeof pattern !== "string" || slash <= 0 || slash === pattern.length - 1) {
      throw new TypeError(`${caller}: ${JSON.stringify(pattern)} is not "Service/Method", "Service/*" or "*"`);
    }
    const service = pattern.slice(0, slash);
    const method = pattern.slice(slash + 1);
    const methods = table.get(service);
    if (method === ALL) table.set(service, ALL);
    else if (methods === undefined) table.set(service, new Set([method]));
    else if (methods !== ALL) methods.add(method);
  }
  if (everything) return () => true;
  return (ref) => {
    const methods = table.get(ref.service);
    return methods !== undefined && (methods === ALL || methods.has(ref.method));
  };
}

/**
 * A selector as a predicate over methods, compiled once: what {@link when} tests per call, for
 * middleware that select per rule inside themselves (authorize, faults). A bad pattern throws a
 * TypeError prefixed by `caller`.
 */
export const methodMatcher: (selector: MethodSelector, caller: string) => (method: MethodRef) => boolean = compile;

/** A selector as text: the pattern(s), or the function's name. */
export function describeSelector(selector: MethodSelector): string {
  if (typeof selector === "string") return selector;
  if (typeof selector === "function") return `${selector.name || "a predicate"}()`;
  return selector.join(", ");
}

/** The method of a call in either host: the CallContext itself, or Koa's path split at its second "/". */
export function methodOf(ctx: HostContext): MethodRef {
  if (ctx instanceof CallContext) return ctx;
  const path = ctx.path;
  const slash = path.indexOf("/", 1);
  return slash === -1 ? { service: path.slice(1), method: "" } : { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** The selection {@link when} or {@link unless} attached to `middleware`, if any. */
export function selectionOf(middleware: Middleware): Selection | undefined {
  return (middleware as { readonly [SELECTION]?: Selection })[SELECTION];
}

/**
 * {@link when} (`applyOnMatch`) or {@link unless}, for factories that select themselves (auth's
 * `publicMethods`); `caller` prefixes the errors about a bad selector.
 */
export function select(selector: MethodSelector, middleware: Middleware, applyOnMatch: boolean, caller: string): Middleware {
  if (typeof middleware !== "function") throw new TypeError(`${caller}: middleware must be a function`);
  const matches = compile(selector, caller);
  const own = applyOnMatch ? matches : (ref: MethodRef) => !matches(ref);
  const inner = selectionOf(middleware);
  // when(a, when(b, m)) is m selected by a and b: one selection, so Application skips it whole.
  const applies = inner === undefined ? own : (ref: MethodRef) => own(ref) && inner.applies(ref);
  const target = inner?.middleware ?? middleware;
  const description = `${applyOnMatch ? "when" : "unless"} ${describeSelector(selector)}${inner === undefined ? "" : `; ${inner.description}`}`;
  // In other hosts (Koa, a plain koa-compose chain) the returned function does the selecting.
  const selected = (ctx: HostContext, next: Next): Promise<void> | void =>
    applies(methodOf(ctx)) ? target(ctx as CallContext, next) : next();
  Object.defineProperty(selected, "name", { value: target.name });
  Object.defineProperty(selected, SELECTION, { value: Object.freeze({ applies, middleware: target, description }) });
  return selected;
}

/**
 * Applies `middleware` only to the methods `selector` matches; the others go straight on.
 *
 * Ordering: the middleware keeps its place in the chain. With
 * `app.use(a).use(when("KeyValue/Put", b)).use(c)`, a Put runs `a -> b -> c -> handler` and a
 * Get runs `a -> c -> handler`. A skipped middleware is not entered: it is not in
 * `interceptors_applied` (`ctx.applied`), cannot fail the call, and adds nothing to the state,
 * which is why what it adds becomes optional in the types (`Partial<Adds>`). The selection
 * depends on the method only, so an application's chain for each method is known before any
 * call arrives: see `Application.chain()` and `describe()`.
 *
 * @example
 *   app.use(when("KeyValue/*", rateLimit({ capacity: 100, refillPerSecond: 50 })));
 *   app.use(when(["Admin/Reset", "Admin/Dump"], audit));
 */
export function when<N extends object, A extends object>(selector: MethodSelector, middleware: PortableMiddleware<N, A>): PortableMiddleware<N, Partial<A>>;
export function when<N extends object, A extends object>(selector: MethodSelector, middleware: Middleware<N, A>): Middleware<N, Partial<A>>;
export function when(selector: MethodSelector, middleware: Middleware): Middleware {
  return select(selector, middleware, true, "when()");
}

/**
 * Applies `middleware` to every method except those `selector` matches: the inverse of
 * {@link when}, with the same ordering rules.
 *
 * @example
 *   app.use(unless("Health/*", auth({ tokens })));
 */
export function unless<N extends object, A extends object>(selector: MethodSelector, middleware: PortableMiddleware<N, A>): PortableMiddleware<N, Partial<A>>;
export function unless<N extends object, A extends object>(selector: MethodSelector, middleware: Middleware<N, A>): Middleware<N, Partial<A>>;
export function unless(selector: MethodSelector, middleware: Middleware): Middleware {
  return select(selector, middleware, false, "unless()");
}
