import { type Attributes, context, propagation, type Span, SpanKind, SpanStatusCode, trace, type TracerProvider } from "@opentelemetry/api";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import { streamsRequests, streamsResponses } from "../../lib/core/call-kind.js";
import type { Next } from "../../lib/core/middleware.js";
import { Status, statusCode } from "../../lib/core/status.js";
import { messageEvents, observeMessages } from "../../lib/observability/messages.js";
import { metadataSetter, RPC_GRPC_STATUS_CODE, RPC_METHOD, RPC_SERVICE, RPC_SYSTEM, SERVER_ADDRESS } from "../../lib/observability/trace-context.js";
import { TRACER_NAME } from "../tracing.js";

/** Options of the client {@link tracing}. */
export interface ClientTracingOptions {
  /** Where spans go; default the global one. */
  readonly tracerProvider?: TracerProvider;
  /** The `rpc.system` attribute; default "grpc". */
  readonly system?: string;
  /** The `server.address` attribute: whom the transport calls (a host, a node id); default none. */
  readonly serverAddress?: string;
}

/**
 * One CLIENT span per call, a child of the span active where the call was made (a server
 * `tracing()` span when a handler calls out), named `Service/Method` with the `rpc.*`
 * attributes and, once answered, `rpc.grpc.status_code`; any status other than OK sets it
 * ERROR. Its context goes out in the call's metadata (W3C `traceparent`/`tracestate` with the
 * propagator an SDK registers), so the server's span is its child.
 *
 * A streaming call is one span for the whole stream, with a `message` event per message
 * (`message.type` SENT for each request message as the transport takes it, RECEIVED for each
 * response message as it is delivered; `message.id` counting each direction from 1).
 *
 * Where it goes decides what one span covers: before `retry()` the whole call, after it each
 * attempt.
 *
 * @example
 *   createClient(transport).use(propagate()).use(tracing()).use(credentials({ token }));
 */
export function tracing(options: ClientTracingOptions = {}): ClientMiddleware {
  const provider = options.tracerProvider ?? trace.getTracerProvider();
  if (typeof provider?.getTracer !== "function") throw new TypeError("tracing(): tracerProvider must have getTracer()");
  const system = options.system ?? "grpc";
  if (typeof system !== "string" || system === "") throw new TypeError("tracing(): system must be a non-empty string");
  const tracer = provider.getTracer(TRACER_NAME);
  const serverAddress = options.serverAddress;

  return async function tracing(ctx: ClientCallContext, next: Next): Promise<void> {
    const attributes: Attributes = { [RPC_SYSTEM]: system, [RPC_SERVICE]: ctx.service, [RPC_METHOD]: ctx.method };
    if (serverAddress !== undefined) attributes[SERVER_ADDRESS] = serverAddress;
    const parent = context.active();
    const span = tracer.startSpan(ctx.path, { kind: SpanKind.CLIENT, attributes }, parent);
    const active = trace.setSpan(parent, span);
    propagation.inject(active, ctx.metadata, metadataSetter);
    const { request, receive } = ctx;
    if (span.isRecording()) traceStreams(ctx, span);
    try {
      await context.with(active, next);
    } finally {
      // The layers outside (a retry() re-sending) see the streams as they gave them.
      ctx.request = request;
      ctx.receive = receive;
      span.setAttribute(RPC_GRPC_STATUS_CODE, statusCode[ctx.status]);
      if (ctx.status !== Status.OK) span.setStatus({ code: SpanStatusCode.ERROR, message: ctx.error?.message ?? ctx.status });
      span.end();
    }
  };
}

/** Adds a message event to `span` for each message of the call's streams (none for a unary call). */
function traceStreams(ctx: ClientCallContext, span: Span): void {
  if (streamsRequests(ctx.kind)) ctx.request = observeMessages(ctx.request as AsyncIterable<unknown>, messageEvents(span, "SENT"));
  const receive = ctx.receive;
  if (streamsResponses(ctx.kind) && receive !== undefined) {
    const received = messageEvents(span, "RECEIVED");
    let index = 0;
    ctx.receive = (message) => {
      received(message, index++);
      return receive(message);
    };
  }
}
