import { performance } from "node:perf_hooks";
import { type Registry, register } from "prom-client";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import type { ClientMiddleware } from "../../lib/client/middleware.js";
import type { Next } from "../../lib/core/middleware.js";
import { Status } from "../../lib/core/status.js";
import { grpcMetrics, type GrpcMetricsOptions } from "../../lib/observability/grpc-metrics.js";

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
 * A unary call counts one message sent when it starts and one received when it ends OK.
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
    const meter = counts.meter("unary", ctx.service, ctx.method);
    meter.started();
    meter.sent();
    const start = now();
    await next(); // never rejects: the outcome is on ctx
    if (ctx.status === Status.OK) meter.received();
    meter.handled(ctx.status, (now() - start) / 1000);
  };
}
