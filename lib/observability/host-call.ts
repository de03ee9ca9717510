import { CallContext } from "../core/context.js";
import { type HostContext, httpStatusOf } from "../core/host-context.js";
import type { StatusName } from "../core/status.js";
import { StatusError } from "../core/status-error.js";
import { statusOfHttp } from "./codes.js";
import type { GrpcType } from "./grpc-metrics.js";

/**
 * How a call ended, in gRPC terms, for the observers (metrics, tracing) of either host: the
 * RPC host's `ctx.status`; in Koa, the status of the error on its way to Koa's `ctx.onerror`
 * (a StatusError's own code) or of the HTTP status answered.
 */
export function finalStatus(ctx: HostContext, threw: boolean, thrown: unknown): StatusName {
  if (ctx instanceof CallContext) return ctx.status;
  if (threw) return thrown instanceof StatusError ? thrown.code : statusOfHttp(httpStatusOf(thrown));
  return statusOfHttp(ctx.status);
}

/** A short, safe description of a failed call: the error's message when it may be shown, else the status. */
export function failureMessage(ctx: HostContext, status: StatusName, thrown: unknown): string {
  const error = ctx instanceof CallContext ? ctx.failure?.error : thrown instanceof StatusError ? thrown : undefined;
  return error !== undefined && error.expose ? error.message : status;
}


/** go-grpc-prometheus's `grpc_type` of each kind of method a host may name (`ctx.kind` in the gRPC host). */
const GRPC_TYPES: Readonly<Record<string, GrpcType>> = { unary: "unary", server_stream: "server_stream", client_stream: "client_stream", bidi: "bidi_stream" };

/** The kind of call, as go-grpc-prometheus labels it: from the host's `kind` when it has one, else unary. */
export function grpcTypeOf(ctx: HostContext): GrpcType {
  const kind = (ctx as { readonly kind?: unknown }).kind;
  return typeof kind === "string" && Object.hasOwn(GRPC_TYPES, kind) ? (GRPC_TYPES[kind] as GrpcType) : "unary";
}

/** Whether `value` is an async iterable: a stream of messages. */
export function isStream(value: unknown): value is AsyncIterable<unknown> {
  return value !== null && typeof value === "object" && typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === "function";
}
