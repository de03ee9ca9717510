import { type Attributes, context, INVALID_SPAN_CONTEXT, isSpanContextValid, type SpanContext, type TextMapGetter, type TextMapSetter, trace } from "@opentelemetry/api";
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
 * The attributes a server span starts with. The keys are written out, not computed from the
 * constants above: an object literal of known keys is built from a template, one of computed
 * keys property by property, and this runs on every call, traced or not.
 */
export function serverAttributes(system: string, service: string, method: string, client: string): Attributes {
  return { "rpc.system": system, "rpc.service": service, "rpc.method": method, "client.address": client };
}

/** The attributes a client span starts with; `server.address` when there is one (see {@link serverAttributes}). */
export function clientAttributes(system: string, service: string, method: string, server: string | undefined): Attributes {
  return server === undefined
    ? { "rpc.system": system, "rpc.service": service, "rpc.method": method }
    : { "rpc.system": system, "rpc.service": service, "rpc.method": method, "server.address": server };
}

/**
 * Whether `ids` are a trace to make active and pass on (a caller's, under a span that records
 * nothing, say). The API's no-op span without a parent has the shared INVALID_SPAN_CONTEXT,
 * known at a glance: `isSpanContextValid()` tests the ids with regular expressions (~700
 * instructions, measured), on every call of `tracing()` and every log line of a traced call.
 */
export function isTrace(ids: SpanContext | undefined): ids is SpanContext {
  return ids !== undefined && ids !== INVALID_SPAN_CONTEXT && isSpanContextValid(ids);
}

/**
 * `{ trace_id, span_id }` of the span active where it is called, or `{}` outside one: a pino
 * `mixin`, so every log line written while a traced call runs names its trace. A new object
 * each time: pino merges the line's own fields into it.
 *
 * @example
 *   const logger = pino({ mixin: traceLogFields });
 */
export function traceLogFields(): Record<string, string> {
  const ids = trace.getSpanContext(context.active());
  return isTrace(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}
