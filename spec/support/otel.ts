import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";

let exporter: InMemorySpanExporter | undefined;

/**
 * The real OpenTelemetry SDK, registered globally once for the specs that need it (tracer
 * provider, AsyncLocalStorage context manager, W3C propagator), exporting every span as it ends
 * into memory. Returns the exporter, emptied.
 */
export function memoryTracing(): InMemorySpanExporter {
  if (exporter === undefined) {
    exporter = new InMemorySpanExporter();
    new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }).register();
  }
  exporter.reset();
  return exporter;
}

/** The finished span named `name`; fails when there is not exactly one. */
export function onlySpan(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((span) => span.name === name);
  if (found.length !== 1) throw new Error(`expected one span ${name}, found ${found.length} among ${spans.map((s) => s.name).join(", ")}`);
  return found[0] as ReadableSpan;
}
