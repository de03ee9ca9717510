import type { Metric, Registry } from "prom-client";
import { Status, type StatusName, statusCode } from "../core/status.js";
import { goCodeName } from "./codes.js";

/** Which end of a call the metrics count: go-grpc-prometheus's `grpc_server_*` or `grpc_client_*`. */
export type Side = "server" | "client";

/** go-grpc-prometheus's `grpc_type` label: what kind of call it was. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/**
 * The kind of a call, as go-grpc-prometheus labels it: from the call's `kind` (a server or a
 * client context; lib/core/call-kind.ts), unary for a call that names none (a Koa request).
 */
export function grpcTypeOf(call: object): GrpcType {
  switch ((call as { readonly kind?: unknown }).kind) {
    case "server_stream":
      return "server_stream";
    case "client_stream":
      return "client_stream";
    case "bidi":
      return "bidi_stream";
    default:
      return "unary";
  }
}

/**
 * The counters of one method: a call costs a few additions. Message counts are per message,
 * so that a stream reports each one.
 */
export interface MethodMeter {
  started(): void;
  received(): void;
  sent(): void;
  /** The call ended with `status` after `seconds`. */
  handled(status: StatusName, seconds: number): void;
  /** A unary call started, its one request received: `started()` and `received()` in one. */
  unaryStarted(): void;
  /** A unary call ended: its one response sent when it ended OK, as Go counts, then `handled()`. */
  unaryHandled(status: StatusName, seconds: number): void;
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

/** One method's counts: plain numbers, turned into samples only when the registry is scraped. */
class Counts implements MethodMeter {
  startedCount = 0;
  receivedCount = 0;
  sentCount = 0;
  /** Calls ended, by numeric status code. */
  readonly handledCount: number[] = new Array<number>(17).fill(0);
  /** Observations per bucket (not cumulative); the last is +Inf. */
  readonly bucketCount: number[];
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<"grpc_type" | "grpc_service" | "grpc_method", string>>,
    readonly bounds: readonly number[],
  ) {
    this.bucketCount = new Array<number>(bounds.length + 1).fill(0);
  }

  started(): void {
    this.startedCount++;
  }
  received(): void {
    this.receivedCount++;
  }
  sent(): void {
    this.sentCount++;
  }
  unaryStarted(): void {
    this.startedCount++;
    this.receivedCount++;
  }
  unaryHandled(status: StatusName, seconds: number): void {
    if (status === Status.OK) this.sentCount++;
    this.handled(status, seconds);
  }
  handled(status: StatusName, seconds: number): void {
    // OK, the common case, by identity: no keyed lookup of the status name.
    (this.handledCount[status === Status.OK ? 0 : statusCode[status]] as number)++;
    const bounds = this.bounds;
    let i = 0;
    while (i < bounds.length && seconds > (bounds[i] as number)) i++;
    (this.bucketCount[i] as number)++;
    this.sum += seconds;
    this.count++;
  }

  reset(): void {
    this.startedCount = this.receivedCount = this.sentCount = this.sum = this.count = 0;
    this.handledCount.fill(0);
    this.bucketCount.fill(0);
  }
}

/** A sample as prom-client's registry prints it. */
interface Sample {
  readonly value: number;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly metricName?: string;
}

/**
 * A metric prom-client's registry can hold: what `registerMetric()`, `metrics()`,
 * `getMetricsAsJSON()` and `resetMetrics()` use of one.
 */
class CollectedMetric {
  readonly aggregator = "sum";
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: "counter" | "histogram",
    readonly samples: () => Sample[],
    readonly reset: () => void,
  ) {}

  get(): Promise<{ name: string; help: string; type: string; values: Sample[]; aggregator: string }> {
    return Promise.resolve({ name: this.name, help: this.help, type: this.type, values: this.samples(), aggregator: this.aggregator });
  }
}

/**
 * The go-grpc-prometheus metrics of one side in one registry: `grpc_<side>_started_total`,
 * `_handled_total` (with `grpc_code` as grpc-go spells it), `_msg_received_total`,
 * `_msg_sent_total` and the `_handling_seconds` histogram, all labelled `grpc_type`,
 * `grpc_service`, `grpc_method`; never anything per client.
 *
 * A call adds to plain numbers of its method; the samples are made when the registry is
 * scraped. Measured: prom-client's own `labels().inc()` hashes the labels on every call, 3-5 µs
 * per call for the five series, more than the rest of a call through bin/node's chain.
 */
export class GrpcMetrics {
  /** By grpc_type, then service, then method: two map lookups per call. */
  readonly #meters: Readonly<Record<GrpcType, Map<string, Map<string, Counts>>>> = { unary: new Map(), client_stream: new Map(), server_stream: new Map(), bidi_stream: new Map() };
  /** The unary meter of the first service seen with a method of each name. */
  readonly #unaryByMethod = new Map<string, Counts>();
  readonly #all: Counts[] = [];
  readonly #bounds: readonly number[];
  readonly #maxMethods: number;

  constructor(registry: Registry, side: Side, options: GrpcMetricsOptions = {}) {
    const bounds = [...(options.buckets ?? DEFAULT_BUCKETS)].sort((a, b) => a - b);
    if (bounds.some((b) => !Number.isFinite(b))) throw new TypeError("metrics(): buckets must be finite numbers of seconds");
    this.#bounds = bounds;
    this.#maxMethods = options.maxMethods ?? 1000;
    const [started, handled, received, sent, seconds] = HELP[side];
    const all = this.#all;
    const reset = (): void => all.forEach((counts) => counts.reset());
    const counter = (name: string, help: string, value: (counts: Counts) => number): CollectedMetric =>
      new CollectedMetric(name, help, "counter", () => all.map((counts) => ({ value: value(counts), labels: counts.labels })), reset);
    const metrics = [
      counter(`grpc_${side}_started_total`, started, (c) => c.startedCount),
      new CollectedMetric(`grpc_${side}_handled_total`, handled, "counter", () => handledSamples(all), reset),
      counter(`grpc_${side}_msg_received_total`, received, (c) => c.receivedCount),
      counter(`grpc_${side}_msg_sent_total`, sent, (c) => c.sentCount),
      new CollectedMetric(`grpc_${side}_handling_seconds`, seconds, "histogram", () => histogramSamples(`grpc_${side}_handling_seconds`, all, bounds), reset),
    ];
    for (const metric of metrics) {
      if (registry.getSingleMetric(metric.name) !== undefined) throw new Error(`metrics(): the registry already has a metric named ${metric.name}`);
    }
    for (const metric of metrics) registry.registerMetric(metric as unknown as Metric);
  }

  /** The meter of `service`/`method` for calls of `type`, made on first use. */
  meter(type: GrpcType, service: string, method: string): MethodMeter {
    return this.#meters[type].get(service)?.get(method) ?? this.#added(type, service, method);
  }

  /**
   * {@link meter} of a unary call, by one map lookup when no two services have a unary method
   * of that name (the first service seen under a name has it; the others take the two lookups).
   */
  unaryMeter(service: string, method: string): MethodMeter {
    const first = this.#unaryByMethod.get(method);
    return first !== undefined && first.labels.grpc_service === service ? first : this.meter("unary", service, method);
  }

  /** The meter of a method seen for the first time, or the overflow's past maxMethods. */
  #added(type: GrpcType, service: string, method: string): MethodMeter {
    if (this.#all.length >= this.#maxMethods && !(service === OVERFLOW && method === OVERFLOW)) return this.meter(type, OVERFLOW, OVERFLOW);
    const counts = new Counts(Object.freeze({ grpc_type: type, grpc_service: service, grpc_method: method }), this.#bounds);
    this.#all.push(counts);
    const byService = this.#meters[type];
    let byMethod = byService.get(service);
    if (byMethod === undefined) byService.set(service, (byMethod = new Map()));
    byMethod.set(method, counts);
    if (type === "unary" && !this.#unaryByMethod.has(method)) this.#unaryByMethod.set(method, counts);
    return counts;
  }
}

/** The status names by numeric code. */
const BY_CODE = (Object.keys(statusCode) as StatusName[]).sort((a, b) => statusCode[a] - statusCode[b]);

/** `_handled_total`: a sample per method and status that occurred. */
function handledSamples(all: readonly Counts[]): Sample[] {
  const samples: Sample[] = [];
  for (const counts of all) {
    counts.handledCount.forEach((value, code) => {
      if (value > 0) samples.push({ value, labels: { ...counts.labels, grpc_code: goCodeName[BY_CODE[code] as StatusName] } });
    });
  }
  return samples;
}

/** A histogram's samples per method: cumulative `_bucket`s up to `+Inf`, `_sum`, `_count`. */
function histogramSamples(name: string, all: readonly Counts[], bounds: readonly number[]): Sample[] {
  const samples: Sample[] = [];
  for (const counts of all) {
    let cumulative = 0;
    counts.bucketCount.forEach((value, i) => {
      cumulative += value;
      samples.push({ metricName: `${name}_bucket`, value: cumulative, labels: { ...counts.labels, le: i < bounds.length ? (bounds[i] as number) : "+Inf" } });
    });
    samples.push({ metricName: `${name}_sum`, value: counts.sum, labels: counts.labels });
    samples.push({ metricName: `${name}_count`, value: counts.count, labels: counts.labels });
  }
  return samples;
}

const shared = new WeakMap<Registry, Partial<Record<Side, GrpcMetrics>>>();

/**
 * The metrics of `side` in `registry`, made once per registry and side: every `metrics()`
 * middleware on one registry counts into the same series (a registry holds one metric per
 * name). The options of the first call apply.
 */
export function grpcMetrics(registry: Registry, side: Side, options: GrpcMetricsOptions = {}): GrpcMetrics {
  let sides = shared.get(registry);
  if (sides === undefined) shared.set(registry, (sides = {}));
  return (sides[side] ??= new GrpcMetrics(registry, side, options));
}
