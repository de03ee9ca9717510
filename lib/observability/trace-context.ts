import { context, isSpanContextValid, type TextMapGetter, type TextMapSetter, trace } from "@opentelemetry/api";
import { CallContext } from "../core/context.js";
import { type HostContext, requestHeader } from "../core/host-context.js";
import type { Metadata } from "../core/metadata.js";

/** Reads W3C `traceparent`/`tracestate` (or whatever the registered propagator uses) from a call of either host. */
export const hostGetter: TextMapGetter<HostContext> = {
  get: (ctx, key) => requestHeader(ctx, key),
  keys: (ctx) => (ctx instanceof CallContext ? [...ctx.metadata.entries()].map(([key]) => key) : Object.keys(ctx.headers)),
};

/** Writes the trace context into outgoing metadata. */
export const metadataSetter: TextMapSetter<Metadata> = {
  set: (metadata, key, value) => {
    metadata.set(key, value);
  },
};

/** The OpenTelemetry RPC attributes (semantic conventions, `rpc.*`) this library sets. */
export const RPC_SYSTEM = "rpc.system";
export const RPC_SERVICE = "rpc.service";
export const RPC_METHOD = "rpc.method";
export const RPC_GRPC_STATUS_CODE = "rpc.grpc.status_code";
export const CLIENT_ADDRESS = "client.address";
export const SERVER_ADDRESS = "server.address";

/**
 * `{ trace_id, span_id }` of the span active where it is called, or `{}` outside one: a pino
 * `mixin`, so every log line written while a traced call runs names its trace. A new object
 * each time: pino merges the line's own fields into it.
 *
 * @example
 *   const logger = pino({ mixin: traceLogFields });
 */
export function traceLogFields(): Record<string, string> {
  const span = trace.getSpan(context.active());
  if (span === undefined) return {};
  const ids = span.spanContext();
  return isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}
