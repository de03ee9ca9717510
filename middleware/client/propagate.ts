import { context, propagation } from "@opentelemetry/api";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import { type Clock, systemClock } from "../../lib/client/clock.js";
import { withDeadline } from "../../lib/client/deadline.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import type { Next } from "../../lib/core/middleware.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { currentInbound, type InboundCall } from "../../lib/observability/inbound-call.js";
import { metadataSetter } from "../../lib/observability/trace-context.js";

/** Options of the client {@link propagate}. */
export interface ClientPropagateOptions {
  /** The clock that enforces the carried deadline; default the system clock. */
  readonly clock?: Clock;
}

/** The W3C trace context headers, forwarded unchanged when no SDK took part. */
const TRACE_HEADERS = ["traceparent", "tracestate"] as const;

/**
 * Carries the inbound call being handled (set by the server-side `propagate()`) over to this
 * outbound call: what is left of its deadline (the call's own deadline if sooner; already
 * spent: DEADLINE_EXCEEDED without sending), its cancellation (it aborts this call's signal:
 * CANCELLED, or the inbound reason), the trace context of the span active here (or the
 * inbound `traceparent`/`tracestate` unchanged when no SDK injects one), and the metadata keys
 * the server-side `propagate()` names, unless this call sets them itself. Outside a handled
 * call it does nothing.
 *
 * Put it first: a client `tracing()` after it starts its span from the same context and
 * overwrites the trace context with its own span's.
 *
 * @example
 *   const kv = createClient(transport).use(propagate()).use(tracing()).use(retry());
 */
export function propagate(options: ClientPropagateOptions = {}): ClientMiddleware {
  const clock = options.clock ?? systemClock;
  if (typeof clock?.now !== "function") throw new TypeError("propagate(): clock must be a Clock");

  return async function propagate(ctx: ClientCallContext, next: Next): Promise<void> {
    const inbound = currentInbound();
    if (inbound === undefined) return next();
    carryMetadata(ctx, inbound);
    const remainingMs = inbound.remainingMs();
    if (remainingMs !== undefined && remainingMs <= 0) return ctx.fail(new StatusError(Status.DEADLINE_EXCEEDED, "the inbound call's deadline has passed"));
    // Cut to the microsecond, down: never longer than what is left.
    const run = remainingMs === undefined ? next : () => withDeadline(ctx, Math.floor(remainingMs * 1000) / 1000, clock, next);
    const signal = inbound.signal;
    if (signal === undefined) return run();
    if (signal.aborted) return ctx.fail(cancelled(signal));
    // Inside this layer the call's signal also aborts when the inbound call is cancelled.
    const outer = ctx.signal;
    const controller = new AbortController();
    const onInboundAbort = (): void => controller.abort(cancelled(signal));
    const onOuterAbort = (): void => controller.abort(outer?.reason);
    signal.addEventListener("abort", onInboundAbort, { once: true });
    outer?.addEventListener("abort", onOuterAbort, { once: true });
    ctx.signal = controller.signal;
    try {
      if (outer?.aborted) controller.abort(outer.reason);
      await run();
    } finally {
      signal.removeEventListener("abort", onInboundAbort);
      outer?.removeEventListener("abort", onOuterAbort);
      ctx.signal = outer;
    }
  };
}

function carryMetadata(ctx: ClientCallContext, inbound: InboundCall): void {
  for (const key of inbound.metadata) {
    if (ctx.metadata.has(key)) continue;
    const value = inbound.header(key);
    if (value !== undefined) ctx.metadata.set(key, value);
  }
  if (ctx.metadata.has("traceparent")) return;
  propagation.inject(context.active(), ctx.metadata, metadataSetter);
  if (ctx.metadata.has("traceparent")) return;
  for (const key of TRACE_HEADERS) {
    const value = inbound.header(key);
    if (value !== undefined) ctx.metadata.set(key, value);
  }
}

function cancelled(signal: AbortSignal): StatusError {
  return signal.reason instanceof StatusError ? signal.reason : new StatusError(Status.CANCELLED, "the inbound call was cancelled", { cause: signal.reason });
}
