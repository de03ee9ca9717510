import { performance } from "node:perf_hooks";
import { CallContext } from "../lib/core/context.js";
import { type KoaContext, requestHeader } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status } from "../lib/core/status.js";
import { StatusError } from "../lib/core/status-error.js";
import { budgetOf } from "../lib/core/deadline.js";
import { type InboundCall, runInbound } from "../lib/observability/inbound-call.js";

/** Options of {@link propagate}. */
export interface PropagateOptions {
  /**
   * Metadata keys (request headers in Koa) that calls made while handling this one carry on,
   * e.g. `["x-user-id", "x-request-id"]`. Default none: nothing is carried unless named, so an
   * `authorization` header never crosses a hop by default.
   */
  readonly metadata?: readonly string[];
  /** Millisecond clock the inbound deadline is kept on; default performance.now. */
  readonly now?: () => number;
}

/**
 * Makes the call being handled known to the client pipeline: while the rest of the pipeline
 * and the handler run, every outbound call made through a client with the client-side
 * `propagate()` carries on, without the handler passing anything:
 * - the deadline: what is left of the inbound one (from its `grpc-timeout`), never more;
 * - cancellation: the inbound call cancelled (`ctx.signal`; in Koa, the client gone before the
 *   answer) cancels the outbound ones;
 * - the trace context (the active span, or the inbound `traceparent` unchanged without an SDK);
 * - the metadata keys named in `options.metadata`, and only those.
 *
 * It runs the rest of the call in an AsyncLocalStorage; it changes nothing about the call.
 *
 * @example
 *   app.use(tracing()).use(requestId()).use(propagate({ metadata: ["x-user-id", "x-request-id"] }));
 *   const kv = createClient(transport).use(propagate()).use(tracing());
 *   // in a handler: await kv.call("KeyValue", "Get", { key }) -- deadline, cancel, trace and x-user-id follow
 */
export function propagate(options: PropagateOptions = {}): PortableMiddleware {
  const keys = (options.metadata ?? []).map((key) => {
    if (typeof key !== "string" || !/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) throw new TypeError(`propagate(): metadata keys must be header names, got ${JSON.stringify(key)}`);
    return key.toLowerCase();
  });
  const now = options.now ?? (() => performance.now());

  return function propagate(ctx: CallContext | KoaContext, next: Next): Promise<void> {
    // The core's own deadline, once hosts enforce grpc-timeout, takes over from this reading.
    const timeoutMs = budgetOf(requestHeader(ctx, "grpc-timeout"));
    const deadlineAt = timeoutMs === undefined ? undefined : now() + timeoutMs;
    const inbound: InboundCall = {
      header: (name) => requestHeader(ctx, name),
      metadata: keys,
      remainingMs: () => (deadlineAt === undefined ? undefined : deadlineAt - now()),
      signal: ctx instanceof CallContext ? ctx.signal : undefined,
    };
    if (ctx instanceof CallContext) return runInbound(inbound, next);
    return runKoa(ctx, inbound, next);
  };
}

/** Node's response as Koa exposes it (`ctx.res`), as much as cancellation needs. */
interface ResponseLike {
  readonly writableFinished: boolean;
  once(event: "close", listener: () => void): unknown;
  off(event: "close", listener: () => void): unknown;
}

/** In Koa the inbound call is cancelled when the connection closes before the answer was sent. */
async function runKoa(ctx: KoaContext, inbound: InboundCall, next: Next): Promise<void> {
  const res = (ctx as KoaContext & { readonly res?: ResponseLike }).res;
  if (res === undefined) return runInbound(inbound, next);
  const controller = new AbortController();
  const onClose = (): void => {
    if (!res.writableFinished) controller.abort(new StatusError(Status.CANCELLED, "the client closed the connection"));
  };
  res.once("close", onClose);
  try {
    await runInbound({ ...inbound, signal: controller.signal }, next);
  } finally {
    res.off("close", onClose);
  }
}
