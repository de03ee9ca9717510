import type { Registry } from "prom-client";

/** go-grpc-prometheus's labels of a KeyValue method called as `type` (unary, server_stream, ...). */
export function keyValueLabels(type: string, method: string): Record<string, string> {
  return { grpc_type: type, grpc_service: "KeyValue", grpc_method: method };
}

/** The value of the sample `name{labels}` in the registry's text, or undefined. */
export async function sample(registry: Pick<Registry, "metrics">, name: string, labels: Record<string, string>): Promise<number | undefined> {
  return sampleOf(await registry.metrics(), name, labels);
}

/** The value of the sample `name{labels}` (exactly those labels) in Prometheus text, or undefined. */
export function sampleOf(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const labelText = line.slice(name.length + 1, line.indexOf("}"));
    const have = labelText === "" ? [] : labelText.split(",");
    if (have.length === wanted.length && wanted.every((pair) => have.includes(pair))) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}
