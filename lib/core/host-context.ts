import { CallContext } from "./context.js";
import { StatusError } from "./status-error.js";

/**
 * The part of a Koa context (Koa 2 or 3) that the library's middleware use. Koa's `ctx` has all
 * of it, so does the context of any Koa-compatible framework; nothing here imports Koa.
 *
 * @example
 *   const app = new Koa();
 *   app.use(auth({ tokens: ["s3cret"] })); // the middleware receive Koa's ctx as a KoaContext
 */
export interface KoaContext {
  /** The HTTP method: GET, PUT, ... */
  readonly method: string;
  /** The request path, without the query string. */
  readonly path: string;
  /** The client's address: the socket's, or with Koa's `app.proxy` on, the first X-Forwarded-For. */
  readonly ip: string;
  /** The request headers, names lower-cased (Node's IncomingHttpHeaders). */
  readonly headers: object;
  /** The response status, 404 until something answers. */
  status: number;
  /** Per-request state shared by the middleware; auth puts `principal` here. */
  state: object;
  /** A request header, matched case-insensitively; "" when absent. */
  get(field: string): string;
  /** Sets a response header. */
  set(field: string, value: string): void;
}

/** The context a portable middleware (lib/core/middleware.ts) receives: a {@link CallContext} in the RPC host, Koa's in Koa. */
export type HostContext = CallContext<object> | KoaContext;

/**
 * A request header in an HTTP host, a metadata entry in the RPC host; undefined when absent or
 * empty. Names match case-insensitively in both.
 *
 * @example
 *   const apiKey = requestHeader(ctx, "x-api-key");
 */
export function requestHeader(ctx: HostContext, name: string): string | undefined {
  if (ctx instanceof CallContext) return ctx.metadata.get(name);
  const value = ctx.get(name);
  return value === "" ? undefined : value;
}

/**
 * Who is calling: the peer in the RPC host (bin/node: the envelope's `src`), `ctx.ip` in Koa, so
 * that Koa's own `proxy` setting decides whether X-Forwarded-For counts.
 */
export function clientOf(ctx: HostContext): string {
  return ctx instanceof CallContext ? ctx.peer : ctx.ip;
}

/** Client Closed Request: CANCELLED's status in the google.rpc.Code mapping, unknown to Koa. */
const CLIENT_CLOSED = 499;

/**
 * The HTTP status Koa answers with when `error` reaches its `ctx.onerror`: a StatusError's
 * mapped status, the `status`/`statusCode` of an http-errors error, otherwise 500. Middleware that
 * observe errors on their way out (logging) use it to report what the client will get.
 *
 * Koa answers only the statuses it has a reason phrase for; of the mapping, only CANCELLED's 499
 * is not one, so Koa (and this function) turn it into 500.
 */
export function httpStatusOf(error: unknown): number {
  let code: unknown = 500;
  if (error instanceof StatusError) code = error.statusCode;
  else if (error !== null && typeof error === "object") {
    const { status, statusCode } = error as { status?: unknown; statusCode?: unknown };
    code = typeof status === "number" ? status : statusCode;
  }
  return typeof code === "number" && code >= 400 && code <= 599 && code !== CLIENT_CLOSED ? code : 500;
}
