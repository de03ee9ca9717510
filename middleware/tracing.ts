import { type Context, context, propagation, ProxyTracerProvider, ROOT_CONTEXT, type Span, SpanKind, SpanStatusCode, trace, type TracerProvider } from "@opentelemetry/api";
import { streamsRequests, streamsResponses } from "../lib/core/call-kind.js";
import { CallContext } from "../lib/core/context.js";
import { clientOf, type KoaContext } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status, statusCode } from "../lib/core/status.js";
import { tailCall } from "../lib/core/tail-call.js";
import { methodOf } from "../lib/core/when.js";
import { failureMessage, whenEnded } from "../lib/observability/host-call.js";
import { messageEvents, observeMessages } from "../lib/observability/messages.js";
import { hostGetter, isTrace, RPC_GRPC_STATUS_CODE, serverAttributes } from "../lib/observability/trace-context.js";

/** The instrumentation scope the spans are reported under. */
export const TRACER_NAME = "rpc-interceptors";

/** Options of {@link tracing}. */
export interface TracingOptions {
  /** Where spans go; default the global one (`trace.setGlobalTracerProvider`, or an SDK's `register()`). */
  readonly tracerProvider?: TracerProvider;
  /** The `rpc.system` attribute; default "grpc". */
  readonly system?: string;
}

/**
 * One SERVER span per call, named `Service/Method` and attributed by the OpenTelemetry RPC
 * semantic conventions: `rpc.system`, `rpc.service`, `rpc.method`, `client.address` (the peer;
 * `ctx.ip` in Koa) and, once the call has ended, `rpc.grpc.status_code`. A call that ends with a
 * status other than OK sets the span's status to ERROR with the error's message when it may be
 * shown (a server fault's details stay in the logs).
 *
 * The parent is the trace context the caller sent (W3C `traceparent`/`tracestate` with the
 * propagator an SDK registers), read from the metadata (the request headers in Koa), never the
 * context that happened to be active. The span is active while the rest of the pipeline runs,
 * so the handler's own spans are its children, outbound calls carry it (client `tracing()`,
 * `propagate()`), and a logger whose mixin is `traceLogFields` stamps `trace_id` and `span_id`
 * on every line of the call. Put it first (outermost) to trace every call, including those auth
 * or rate_limit refuse.
 *
 * A streaming call is one span for the whole stream (it ends when the last message has gone and
 * the status is known), with an event per message instead of a span per message: `message`,
 * with `message.type` RECEIVED or SENT and `message.id` counting each direction from 1. The
 * span stays active across the handler's yields, so a span it starts between two yields is a
 * child: the core pulls a streamed response inside the pipeline, so each resumption of the
 * handler's generator runs in the context the innermost middleware gave it (this span's, or one
 * a middleware inside this one made active, which a re-binding here would wrongly replace).
 *
 * Built on `@opentelemetry/api` only. With no SDK registered behind the global provider and no
 * trace context arriving, a call costs a look at the provider and the metadata: no span is
 * made, and the rest of the pipeline runs as if this layer were not there. With no SDK, a
 * caller's trace is still made active and passed on (under a span that records nothing).
 *
 * @example
 *   new NodeTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] }).register();
 *   app.use(tracing()).use(logging()).use(auth({ tokens }));
 */
export function tracing(options: TracingOptions = {}): PortableMiddleware {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  if (typeof provider?.getTracer !== "function") throw new TypeError("tracing(): tracerProvider must have getTracer()");
  const system = options.system ?? "grpc";
  if (typeof system !== "string" || system === "") throw new TypeError("tracing(): system must be a non-empty string");
  const tracer = provider.getTracer(TRACER_NAME);
  // The global provider while no SDK is registered behind it (trace.getTracerProvider() is the
  // API's ProxyTracerProvider); undefined for any other provider, and once an SDK is there,
  // which stays (a provider is registered once).
  let noSdkYet = provider instanceof ProxyTracerProvider && provider.getDelegateTracer(TRACER_NAME) === undefined ? provider : undefined;

  async function traced(ctx: CallContext | KoaContext, next: Next, parent: Context, span: Span): Promise<void> {
    const active = trace.setSpan(parent, span);
    if (ctx instanceof CallContext) traceStreams(ctx, span);
    await whenEnded(ctx, () => context.with(active, next), (status, thrown) => {
      span.setAttribute(RPC_GRPC_STATUS_CODE, statusCode[status]);
      if (status !== Status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: failureMessage(ctx, status, thrown) });
      span.end();
    });
  }

  return function tracing(ctx: CallContext | KoaContext, next: Next): Promise<void> {
    const parent = propagation.extract(ROOT_CONTEXT, ctx, hostGetter);
    if (noSdkYet !== undefined) {
      // The API's no-op tracer makes a span only of a trace the caller sent: without one, no
      // span, no name, no attributes (building them would be most of this layer's cost).
      if (noSdkYet.getDelegateTracer(TRACER_NAME) === undefined) {
        if (!isTrace(trace.getSpanContext(parent))) return tailCall(next);
      } else noSdkYet = undefined;
    }
    const { service, method } = methodOf(ctx);
    // The attributes go in at the start, where a sampler sees them.
    const span = tracer.startSpan(`${service}/${method}`, { kind: SpanKind.SERVER, attributes: serverAttributes(system, service, method, clientOf(ctx)) }, parent);
    // Not sampled and no trace to carry on: nothing to record or make active, so the rest of
    // the call runs as if this layer were not there (a tail call, no async frame).
    if (!span.isRecording() && !isTrace(span.spanContext())) return tailCall(next);
    return traced(ctx, next, parent, span);
  };
}

/** Adds a message event to `span` for each message of the call's streams (none for a unary call). */
function traceStreams(ctx: CallContext, span: Span): void {
  if (streamsRequests(ctx.kind)) ctx.wrapRequest((messages) => observeMessages(messages, messageEvents(span, "RECEIVED")));
  if (streamsResponses(ctx.kind)) ctx.wrapResponse((messages) => observeMessages(messages, messageEvents(span, "SENT")));
}
