import { expect } from "chai";
import { once } from "node:events";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createClient } from "../../lib/client/client.js";
import { GrpcTransport } from "../../lib/client/transports/grpc-transport.js";
import { startGrpcNode } from "../support/grpc-node.js";
import { call, init } from "../support/messages.js";
import { nodesKilledAfterEach } from "../support/node-process.js";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";

/** An OTLP/HTTP collector on 127.0.0.1 that keeps what is posted to /v1/traces. */
async function collector(): Promise<{ url: string; posts: { headers: IncomingHttpHeaders; body: Buffer }[]; close(): Promise<void> }> {
  const posts: { headers: IncomingHttpHeaders; body: Buffer }[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url === "/v1/traces") posts.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": req.headers["content-type"] ?? "application/json" }).end(req.headers["content-type"]?.includes("json") ? "{}" : "");
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    posts,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, "close");
    },
  };
}

interface OtlpSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId?: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: { key: string; value: Record<string, unknown> }[];
  readonly status?: { code?: number };
}

describe("bin/node with OTEL_TRACES_EXPORTER=otlp: spans exported to an OTLP endpoint", () => {
  const startNode = nodesKilledAfterEach();

  it("exports (http/json) a SERVER span per call, its parent the caller's traceparent, with the service name and rpc attributes", async () => {
    const otlp = await collector();
    try {
      const node = startNode({
        OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url, OTEL_SERVICE_NAME: "spec-node",
      });
      node.writeLines([
        init(),
        call({ msgId: 2, metadata: { authorization: "Bearer valid_token", traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } }),
        call({ msgId: 3, metadata: {} }),
      ]);
      await node.waitForLines(3);
      node.end();
      expect((await node.exited()).code).to.equal(0);

      expect(otlp.posts.length).to.be.greaterThan(0);
      const requests = otlp.posts.map((post) => JSON.parse(post.body.toString("utf8")) as { resourceSpans: { resource: { attributes: { key: string; value: { stringValue?: string } }[] }; scopeSpans: { spans: OtlpSpan[] }[] }[] });
      const resourceSpans = requests.flatMap((r) => r.resourceSpans);
      const serviceNames = resourceSpans.map((r) => r.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue);
      expect(new Set(serviceNames)).to.deep.equal(new Set(["spec-node"]));
      const spans = resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans));
      expect(spans).to.have.length(2);
      const traced = spans.find((span) => span.traceId === TRACE_ID);
      expect(traced, "the span of the call that sent a traceparent").to.not.equal(undefined);
      expect([traced?.name, traced?.kind, traced?.parentSpanId]).to.deep.equal(["KeyValue/Get", 2, PARENT_ID]);
      const attributes = Object.fromEntries((traced?.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));
      expect(attributes).to.deep.include({ "rpc.system": "grpc", "rpc.service": "KeyValue", "rpc.method": "Get", "client.address": "c1" });
      const refused = spans.find((span) => span.traceId !== TRACE_ID);
      expect([refused?.parentSpanId ?? "", refused?.status?.code]).to.deep.equal(["", 2]);

      const callLine = node.logRecords.find((r) => r["msg"] === "call" && r["trace_id"] === TRACE_ID);
      expect(callLine?.["span_id"], "the call's log line names its span").to.equal(traced?.spanId);
    } finally {
      await otlp.close();
    }
  });

  it("in gRPC mode (--listen) exports the server span of a gRPC call, its parent the traceparent the client sent", async () => {
    const otlp = await collector();
    try {
      const { node, target } = await startGrpcNode({ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "http/json", OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url });
      const client = createClient(new GrpcTransport({ target }));
      const result = await client.call("KeyValue", "Put", { key: "k", value: "v" }, { metadata: { authorization: "Bearer valid_token", traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } });
      expect(result.status).to.equal("OK");
      await client.close();
      node.kill("SIGTERM");
      expect((await node.exited()).code).to.equal(0);
      const spans = otlp.posts.flatMap((post) => (JSON.parse(post.body.toString("utf8")) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] }).resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)));
      const traced = spans.find((span) => span.traceId === TRACE_ID);
      expect([traced?.name, traced?.kind, traced?.parentSpanId]).to.deep.equal(["KeyValue/Put", 2, PARENT_ID]);
      const attributes = Object.fromEntries((traced?.attributes ?? []).map((a) => [a.key, Object.values(a.value)[0]]));
      expect(attributes).to.deep.include({ "rpc.system": "grpc", "rpc.service": "KeyValue", "rpc.method": "Put", "client.address": "127.0.0.1", "rpc.grpc.status_code": 0 });
    } finally {
      await otlp.close();
    }
  });

  it("exports http/protobuf by default", async () => {
    const otlp = await collector();
    try {
      const node = startNode({ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url });
      node.writeLines([init(), call({ msgId: 2, metadata: { authorization: "Bearer valid_token", traceparent: `00-${TRACE_ID}-${PARENT_ID}-01` } })]);
      await node.waitForLines(2);
      node.end();
      expect((await node.exited()).code).to.equal(0);
      expect(otlp.posts.map((post) => post.headers["content-type"])).to.deep.equal(["application/x-protobuf"]);
      expect(otlp.posts[0]?.body.includes(Buffer.from(TRACE_ID, "hex"))).to.equal(true);
    } finally {
      await otlp.close();
    }
  });

  it("refuses an unsupported exporter or protocol with exit 2 and the setting's name", async () => {
    const exporter = startNode({ OTEL_TRACES_EXPORTER: "zipkin" });
    expect((await exporter.exited()).code).to.equal(2);
    expect(exporter.stderr).to.match(/OTEL_TRACES_EXPORTER: "zipkin" is not supported/);
    const protocol = startNode({ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" });
    expect((await protocol.exited()).code).to.equal(2);
    expect(protocol.stderr).to.match(/OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" is not supported/);
  });
});
