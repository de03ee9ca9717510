import { type Registry, register } from "prom-client";
import { CallKind, streamsRequests, streamsResponses } from "../lib/core/call-kind.js";
import { CallContext } from "../lib/core/context.js";
import type { KoaContext } from "../lib/core/host-context.js";
import type { Next, PortableMiddleware } from "../lib/core/middleware.js";
import { Status } from "../lib/core/status.js";
import { methodOf } from "../lib/core/when.js";
import { grpcMetrics, type GrpcMetricsOptions, grpcTypeOf, type MethodMeter } from "../lib/observability/grpc-metrics.js";
import { whenEnded } from "../lib/observability/host-call.js";
import { clockOf } from "../lib/observability/call-clock.js";
import { observeMessages } from "../lib/observability/messages.js";
import { finishedAlready } from "../lib/core/tail-call.js";

/** Options of {@link metrics}. */
export interface MetricsOptions extends GrpcMetricsOptions {
  /** The registry to count in; default prom-client's global `register`. */
  readonly registry?: Registry;
  /**
   * Millisecond clock for the handling time, read by this middleware alone; default
   * performance.now, read once per edge of a call with a logging() in the same chain
   * (call-clock.ts).
   */
  readonly now?: () => number;
}

/**
 * Prometheus metrics of every call, with go-grpc-prometheus's names and labels so dashboards
 * made for Go services work unchanged: `grpc_server_started_total`,
 * `grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}` (`grpc_code` as Go
 * spells it: OK, Unauthenticated, ResourceExhausted, NotFound, ...),
 * `grpc_server_msg_received_total`, `grpc_server_msg_sent_total` and the
 * `grpc_server_handling_seconds` histogram. Nothing is labelled per client.
 *
 * A unary call counts one message received when it starts and one sent when it ends OK, as Go
 * does. A streaming call (`ctx.kind`) is labelled `server_stream`, `client_stream` or
 * `bidi_stream` and counts each streamed message as it passes (a single request or response
 * once, as for a unary call); `handled` and the handling time are taken when the whole stream
 * is over. Put it first (outermost) to count the calls auth or rate_limit refuse too. In Koa
 * each request counts under the service and method its path stands for (`/kv/a`: `kv`, `a`)
 * and the gRPC status of its HTTP answer.
 *
 * @example
 *   app.use(metrics()).use(logging());
 *   http.createServer(async (_, res) => res.end(await register.metrics()));
 */
export function metrics(options: MetricsOptions = {}): PortableMiddleware {
  const registry = options.registry ?? register;
  if (typeof registry?.registerMetric !== "function") throw new TypeError("metrics(): registry must be a prom-client Registry");
  const clock = clockOf(options.now);
  const counts = grpcMetrics(registry, "server", options);

  // The RPC host has set ctx.status by the time an error passes this layer: no catch needed.
  // A unary call whose downstream finished synchronously is counted at once, with no await of
  // its own (lib/core/tail-call.ts); anything else is awaited as an async middleware would. The
  // clock readings are shared with a logging() inside or around this layer (call-clock.ts).
  function meterCall(ctx: CallContext, next: Next): Promise<void> {
    const meter = counts.unaryMeter(ctx.service, ctx.method);
    meter.unaryStarted();
    const start = clock.entered(ctx);
    const done = next();
    if (finishedAlready(done)) {
      meter.unaryHandled(ctx.status, (clock.left(ctx) - start) / 1000);
      return done;
    }
    clock.suspended(ctx);
    return unaryWhenSettled(ctx, done, meter, start);
  }

  async function unaryWhenSettled(ctx: CallContext, done: Promise<void>, meter: MethodMeter, start: number): Promise<void> {
    try {
      await done;
    } finally {
      meter.unaryHandled(ctx.status, (clock.now() - start) / 1000);
    }
  }

  async function meterStream(ctx: CallContext, next: Next, meter: MethodMeter): Promise<void> {
    meter.started();
    // Streams are counted message by message as they pass; a single message is counted once,
    // a response only when one is sent.
    if (streamsRequests(ctx.kind)) ctx.wrapRequest((messages) => observeMessages(messages, () => meter.received()));
    else meter.received();
    const streamedResponse = streamsResponses(ctx.kind);
    if (streamedResponse) ctx.wrapResponse((messages) => observeMessages(messages, () => meter.sent()));
    const start = clock.entered(ctx);
    const done = next();
    clock.suspended(ctx);
    try {
      await done;
    } finally {
      const status = ctx.status;
      if (!streamedResponse && status === Status.OK) meter.sent();
      meter.handled(status, (clock.now() - start) / 1000);
    }
  }

  async function meterRequest(ctx: KoaContext, next: Next): Promise<void> {
    const { service, method } = methodOf(ctx);
    const meter = counts.unaryMeter(service, method);
    meter.unaryStarted();
    const start = clock.now();
    await whenEnded(ctx, next, (status) => meter.unaryHandled(status, (clock.now() - start) / 1000));
  }

  // One name, two hosts; the dispatch adds no closure and no await to either.
  return function metrics(ctx: CallContext | KoaContext, next: Next): Promise<void> {
    if (!(ctx instanceof CallContext)) return meterRequest(ctx, next);
    return ctx.kind === CallKind.UNARY ? meterCall(ctx, next) : meterStream(ctx, next, counts.meter(grpcTypeOf(ctx), ctx.service, ctx.method));
  };
}
