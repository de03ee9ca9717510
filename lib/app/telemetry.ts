import type { Middleware } from "../core/middleware.js";
import type { Logger } from "../logging/logger.js";
import type { Env } from "../observability/otel-sdk.js";
import type { NodeConfig } from "./config.js";

/** The service name bin/node's spans carry unless OTEL_SERVICE_NAME says otherwise. */
const SERVICE_NAME = "rpc-interceptors-node";

/**
 * bin/node's observability, when configured: `--metrics-listen` (Prometheus `/metrics`) and the
 * OpenTelemetry environment (`OTEL_TRACES_EXPORTER` and friends). Made from the configuration
 * without loading anything; `start()` loads prom-client, the SDK and the exporter by dynamic
 * import, so a node with none of it set starts as it would without this module.
 */
export class NodeTelemetry {
  readonly #config: Pick<NodeConfig, "metricsListen">;
  readonly #env: Env;
  readonly #tracing: boolean;
  /** The log mixin's fields: none until tracing has started. */
  #fields: () => Record<string, string> = () => ({});
  #beforeExit: (() => void) | undefined;

  private constructor(config: Pick<NodeConfig, "metricsListen">, env: Env, tracing: boolean) {
    this.#config = config;
    this.#env = env;
    this.#tracing = tracing;
  }

  /** The telemetry `config` and `env` ask for; undefined when they ask for none. */
  static of(config: Pick<NodeConfig, "metricsListen">, env: Env): NodeTelemetry | undefined {
    const tracing = (env["OTEL_TRACES_EXPORTER"] ?? "").split(",").some((name) => !["", "none"].includes(name.trim().toLowerCase()));
    if (!tracing && config.metricsListen === undefined) return undefined;
    return new NodeTelemetry(config, env, tracing);
  }

  /** A pino mixin: `trace_id` and `span_id` on the lines of a traced call; undefined when tracing is off. */
  get logMixin(): (() => object) | undefined {
    return this.#tracing ? () => this.#fields() : undefined;
  }

  /**
   * Stand-ins with the names `start()`'s middleware have, for `--describe`: it shows the chain
   * the node would serve without loading, listening to or exporting anything.
   */
  describedMiddleware(): Middleware[] {
    const passThrough = (name: string): Middleware => Object.defineProperty((_ctx: unknown, next: () => Promise<void>) => next(), "name", { value: name });
    return [...(this.#tracing ? [passThrough("tracing")] : []), ...(this.#config.metricsListen === undefined ? [] : [passThrough("metrics")])];
  }

  /**
   * Starts what is configured and returns the middleware to put first in the node's chain,
   * outermost first: `tracing`, then `metrics`. Spans still buffered are exported when the
   * process has nothing else left to do (`beforeExit`), so no stop path needs to know.
   */
  async start(logger: Logger): Promise<Middleware[]> {
    const middleware: Middleware[] = [];
    if (this.#tracing) {
      const [{ startTracingSdk }, { tracing }, { traceLogFields }] = await Promise.all([
        import("../observability/otel-sdk.js"), import("../../middleware/tracing.js"), import("../observability/trace-context.js"),
      ]);
      const sdk = await startTracingSdk(this.#env, logger, SERVICE_NAME);
      this.#fields = traceLogFields;
      this.#beforeExit = () => {
        process.off("beforeExit", this.#beforeExit as () => void);
        sdk.shutdown().catch((err: unknown) => logger.warn({ err }, "exporting the last spans failed"));
      };
      process.on("beforeExit", this.#beforeExit);
      middleware.push(tracing() as unknown as Middleware);
    }
    const listen = this.#config.metricsListen;
    if (listen !== undefined) {
      const [{ register, collectDefaultMetrics }, { metrics }, { serveMetrics }] = await Promise.all([
        import("prom-client"), import("../../middleware/metrics.js"), import("./metrics-server.js"),
      ]);
      collectDefaultMetrics({ register });
      const server = await serveMetrics(register, listen);
      logger.info({ address: server.address.address, port: server.address.port }, "serving /metrics");
      middleware.push(metrics() as unknown as Middleware);
    }
    return middleware;
  }
}
