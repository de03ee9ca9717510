import { performance } from "node:perf_hooks";
import { type Registry, register } from "prom-client";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import type { Next } from "../../lib/core/middleware.js";
import { Status } from "../../lib/core/status.js";
import { streamsRequests, streamsResponses } from "../../lib/core/call-kind.js";
import { grpcMetrics, type GrpcMetricsOptions, grpcTypeOf } from "../../lib/observability/grpc-metrics.js";
import { observeMessages } from "../../lib/observability/messages.js";

/** Options of the client {@link metrics}. */
export interface ClientMetricsOptions extends GrpcMetricsOptions {
  /** The registry to count in; default prom-client's global `register`. */
  readonly registry?: Registry;
  /** Millisecond clock for the handling time; default performance.now. */
  readonly now?: () => number;
}

/**
 * Prometheus metrics of every outbound call, go-grpc-prometheus's client twins:
 * `grpc_client_started_total`, `grpc_client_handled_total{...,grpc_code}`,
 * `grpc_client_msg_sent_total`, `grpc_client_msg_received_total` and the
 * `grpc_client_handling_seconds` histogram, labelled by type, service and method only.
 *
 * `grpc_type` is the call's kind as Go spells it: `unary`, `server_stream`, `client_stream`,
 * `bidi_stream`. A single request counts one message sent when the call starts, a single
 * response one received when the call ends OK (a unary call, as Go counts it); a streamed
 * request counts each message as the transport takes it, a streamed response each message as
 * it is delivered. `handled` and the handling time are taken when the whole call is over.
 * Before `retry()` it counts the call the application made; after it, each attempt.
 *
 * @example
 *   createClient(transport).use(metrics()).use(retry());
 */
export function metrics(options: ClientMetricsOptions = {}): ClientMiddleware {
  const registry = options.registry ?? register;
  if (typeof registry?.registerMetric !== "function") throw new TypeError("metrics(): registry must be a prom-client Registry");
  const now = options.now ?? (() => performance.now());
  const counts = grpcMetrics(registry, "client", options);

  return async function metrics(ctx: ClientCallContext, next: Next): Promise<void> {
    const meter = counts.meter(grpcTypeOf(ctx), ctx.service, ctx.method);
    meter.started();
    const { request, receive } = ctx;
    if (streamsRequests(ctx.kind)) ctx.request = observeMessages(request as AsyncIterable<unknown>, () => meter.sent());
    else meter.sent();
    const streamedResponse = streamsResponses(ctx.kind) && receive !== undefined;
    if (streamedResponse) {
      ctx.receive = (message) => {
        meter.received();
        return receive(message);
      };
    }
    const start = now();
    try {
      await next(); // never rejects: the outcome is on ctx
    } finally {
      // The layers outside (a retry() re-sending) see the streams as they gave them.
      ctx.request = request;
      ctx.receive = receive;
    }
    if (!streamedResponse && ctx.status === Status.OK) meter.received();
    meter.handled(ctx.status, (now() - start) / 1000);
  };
}
