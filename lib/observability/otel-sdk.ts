import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, NodeTracerProvider, type ReadableSpan, type SpanExporter, type SpanProcessor } from "@opentelemetry/sdk-trace-node";
import type { Logger } from "../logging/logger.js";

/** Environment variables, as `process.env` holds them. */
export type Env = Readonly<Record<string, string | undefined>>;

/** A tracing SDK set up from the environment; `shutdown()` exports what is buffered and stops. */
export interface TracingSdk {
  shutdown(): Promise<void>;
}

/** The exporters OTEL_TRACES_EXPORTER names (comma-separated), "none" dropped; empty when tracing is off. */
export function tracesExporters(env: Env): string[] {
  const raw = env["OTEL_TRACES_EXPORTER"] ?? "";
  return raw.split(",").map((name) => name.trim().toLowerCase()).filter((name) => name !== "" && name !== "none");
}

/**
 * Starts the OpenTelemetry SDK as the standard environment variables say, and registers it
 * globally (tracer provider, AsyncLocalStorage context manager, W3C trace-context propagator):
 * - `OTEL_TRACES_EXPORTER`: `otlp`, `console` (JSON lines through `logger`, never stdout, which
 *   carries the protocol), `none`; comma-separated for several;
 * - `OTEL_EXPORTER_OTLP_PROTOCOL` (or `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`): `http/protobuf`
 *   (the default) or `http/json`;
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, `..._HEADERS`,
 *   `..._TIMEOUT`, `OTEL_BSP_*`: read by the exporter and the batch processor themselves;
 * - `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`: the resource (service name by default
 *   `defaultServiceName`).
 * Throws an Error naming the setting when one is not supported.
 */
export async function startTracingSdk(env: Env, logger: Logger, defaultServiceName: string): Promise<TracingSdk> {
  const processors: SpanProcessor[] = [];
  for (const name of tracesExporters(env)) {
    if (name === "otlp") processors.push(new BatchSpanProcessor(await otlpExporter(env)));
    else if (name === "console") processors.push(new BatchSpanProcessor(logExporter(logger)));
    else throw new Error(`OTEL_TRACES_EXPORTER: ${JSON.stringify(name)} is not supported (otlp, console, none)`);
  }
  const detected = detectResources({ detectors: [envDetector] });
  const resource = resourceFromAttributes({ "service.name": defaultServiceName }).merge(detected);
  const provider = new NodeTracerProvider({ resource, spanProcessors: processors });
  provider.register();
  return provider;
}

async function otlpExporter(env: Env): Promise<SpanExporter> {
  const protocol = (env["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] ?? env["OTEL_EXPORTER_OTLP_PROTOCOL"] ?? "http/protobuf").trim();
  if (protocol === "http/json") return new (await import("@opentelemetry/exporter-trace-otlp-http")).OTLPTraceExporter();
  if (protocol === "http/protobuf") return new (await import("@opentelemetry/exporter-trace-otlp-proto")).OTLPTraceExporter();
  throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: ${JSON.stringify(protocol)} is not supported (http/protobuf, http/json)`);
}

/** The `console` exporter, one log line per span: stdout is the node's protocol channel. */
function logExporter(logger: Logger): SpanExporter {
  return {
    export(spans: ReadableSpan[], done) {
      for (const span of spans) {
        const ids = span.spanContext();
        logger.info({
          span: {
            name: span.name, kind: span.kind, trace_id: ids.traceId, span_id: ids.spanId, parent_span_id: span.parentSpanContext?.spanId,
            status: span.status, attributes: span.attributes, start: span.startTime, duration: span.duration,
          },
        }, "span");
      }
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
}
