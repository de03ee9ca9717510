import { Counter, Histogram, type Registry } from "prom-client";
import { type StatusName, statusCode } from "../core/status.js";
import { goCodeName } from "./codes.js";

/** Which end of a call the metrics count: go-grpc-prometheus's `grpc_server_*` or `grpc_client_*`. */
export type Side = "server" | "client";

/** go-grpc-prometheus's `grpc_type` label: what kind of call it was. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/**
 * The counters of one method, label values bound once: a call costs a few increments, no
 * label hashing. Message counts are per message so that a stream reports each one.
 */
export interface MethodMeter {
  started(): void;
  received(): void;
  sent(): void;
  /** The call ended with `status` after `seconds`. */
  handled(status: StatusName, seconds: number): void;
}

/** prom-client's default buckets, which are Prometheus's (and go-grpc-prometheus's) DefBuckets. */
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** The label values used for every method past {@link GrpcMetricsOptions.maxMethods}. */
export const OVERFLOW = "unknown";

/** Options of {@link grpcMetrics}. */
export interface GrpcMetricsOptions {
  /** Buckets of the handling-time histogram, in seconds; default {@link DEFAULT_BUCKETS}. */
  readonly buckets?: readonly number[];
  /**
   * Distinct service/method pairs that get labels of their own; later ones are counted as
   * service and method "unknown". Callers choose the method names (an unknown method is still
   * a call), so without a bound every name would be a new series. Default 1000.
   */
  readonly maxMethods?: number;
}

const HELP: Readonly<Record<Side, readonly [string, string, string, string, string]>> = {
  server: [
    "Total number of RPCs started on the server.",
    "Total number of RPCs completed on the server, regardless of success or failure.",
    "Total number of RPC stream messages received on the server.",
    "Total number of gRPC stream messages sent by the server.",
    "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.",
  ],
  client: [
    "Total number of RPCs started on the client.",
    "Total number of RPCs completed by the client, regardless of success or failure.",
    "Total number of RPC stream messages received by the client.",
    "Total number of gRPC stream messages sent by the client.",
    "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
  ],
};

const LABELS = ["grpc_type", "grpc_service", "grpc_method"] as const;

/**
 * The go-grpc-prometheus metrics of one side in one registry: `grpc_<side>_started_total`,
 * `_handled_total` (with `grpc_code` as grpc-go spells it), `_msg_received_total`,
 * `_msg_sent_total` and the `_handling_seconds` histogram, all labelled `grpc_type`,
 * `grpc_service`, `grpc_method`; never anything per client.
 */
export class GrpcMetrics {
  readonly #started: Counter<string>;
  readonly #handled: Counter<string>;
  readonly #received: Counter<string>;
  readonly #sent: Counter<string>;
  readonly #seconds: Histogram<string>;
  readonly #meters = new Map<string, Map<string, Map<string, MethodMeter>>>();
  readonly #maxMethods: number;
  #methods = 0;

  constructor(registry: Registry, side: Side, options: GrpcMetricsOptions = {}) {
    const [started, handled, received, sent, seconds] = HELP[side];
    const registers = [registry];
    const labelNames = [...LABELS];
    this.#started = new Counter({ name: `grpc_${side}_started_total`, help: started, labelNames, registers });
    this.#handled = new Counter({ name: `grpc_${side}_handled_total`, help: handled, labelNames: [...LABELS, "grpc_code"], registers });
    this.#received = new Counter({ name: `grpc_${side}_msg_received_total`, help: received, labelNames, registers });
    this.#sent = new Counter({ name: `grpc_${side}_msg_sent_total`, help: sent, labelNames, registers });
    this.#seconds = new Histogram({ name: `grpc_${side}_handling_seconds`, help: seconds, labelNames, buckets: [...(options.buckets ?? DEFAULT_BUCKETS)], registers });
    this.#maxMethods = options.maxMethods ?? 1000;
  }

  /** The meter of `service`/`method` for calls of `type`, made on first use. */
  meter(type: GrpcType, service: string, method: string): MethodMeter {
    const found = this.#meters.get(type)?.get(service)?.get(method);
    if (found !== undefined) return found;
    if (this.#methods >= this.#maxMethods && !(service === OVERFLOW && method === OVERFLOW)) return this.meter(type, OVERFLOW, OVERFLOW);
    this.#methods++;
    const meter = this.#newMeter(type, service, method);
    let byService = this.#meters.get(type);
    if (byService === undefined) this.#meters.set(type, (byService = new Map()));
    let byMethod = byService.get(service);
    if (byMethod === undefined) byService.set(service, (byMethod = new Map()));
    byMethod.set(method, meter);
    return meter;
  }

  #newMeter(type: GrpcType, service: string, method: string): MethodMeter {
    const labels = { grpc_type: type, grpc_service: service, grpc_method: method };
    const started = this.#started.labels(labels);
    const received = this.#received.labels(labels);
    const sent = this.#sent.labels(labels);
    const seconds = this.#seconds.labels(labels);
    const handled = this.#handled;
    // One child per status, made when the status first occurs.
    const byCode: ({ inc(): void } | undefined)[] = [];
    return {
      started: () => started.inc(),
      received: () => received.inc(),
      sent: () => sent.inc(),
      handled(status, elapsed) {
        const code = statusCode[status];
        (byCode[code] ??= handled.labels({ ...labels, grpc_code: goCodeName[status] })).inc();
        seconds.observe(elapsed);
      },
    };
  }
}

const shared = new WeakMap<Registry, Partial<Record<Side, GrpcMetrics>>>();

/**
 * The metrics of `side` in `registry`, made once per registry and side: every `metrics()`
 * middleware on one registry counts into the same series (prom-client refuses a second metric
 * of the same name). The options of the first call apply.
 */
export function grpcMetrics(registry: Registry, side: Side, options: GrpcMetricsOptions = {}): GrpcMetrics {
  let sides = shared.get(registry);
  if (sides === undefined) shared.set(registry, (sides = {}));
  return (sides[side] ??= new GrpcMetrics(registry, side, options));
}
