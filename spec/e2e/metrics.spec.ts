import { expect } from "chai";
import { createClient } from "../../lib/client/client.js";
import { GrpcTransport } from "../../lib/client/transports/grpc-transport.js";
import { startGrpcNode } from "../support/grpc-node.js";
import { AUTHORIZED, call, init, parseReply, stats } from "../support/messages.js";
import { NodeProcess, nodesKilledAfterEach } from "../support/node-process.js";
import { keyValueLabels, sampleOf } from "../support/prometheus.js";
import { open, streamEnd, streamMsg } from "../support/stream-messages.js";

/** The port bin/node logged for its /metrics endpoint. */
async function metricsPort(node: NodeProcess): Promise<number> {
  for (let waited = 0; waited < 5000; waited += 10) {
    const record = node.logRecords.find((r) => r["msg"] === "serving /metrics");
    if (record !== undefined) return record["port"] as number;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`bin/node did not log its metrics port; stderr: ${node.stderr}`);
}

/**
 * What the known mix of streaming calls leaves in /metrics, in either mode: a PutMany of 3
 * puts, a Scan of its 3 keys, a Batch of 3 operations (one failing alone: the call is OK), a
 * Scan without a token. A stream's single request or response counts one message, as a unary
 * call's does; a refused call's request counts at its start.
 */
const STREAM_ROWS: readonly [string, Record<string, string>, number][] = (() => {
    const scan = keyValueLabels("server_stream", "Scan");
  const putMany = keyValueLabels("client_stream", "PutMany");
  const batch = keyValueLabels("bidi_stream", "Batch");
  return [
    ["grpc_server_started_total", putMany, 1],
    ["grpc_server_msg_received_total", putMany, 3],
    ["grpc_server_msg_sent_total", putMany, 1],
    ["grpc_server_handled_total", { ...putMany, grpc_code: "OK" }, 1],
    ["grpc_server_handling_seconds_count", putMany, 1],
    ["grpc_server_started_total", scan, 2],
    ["grpc_server_msg_received_total", scan, 2],
    ["grpc_server_msg_sent_total", scan, 3],
    ["grpc_server_handled_total", { ...scan, grpc_code: "OK" }, 1],
    ["grpc_server_handled_total", { ...scan, grpc_code: "Unauthenticated" }, 1],
    ["grpc_server_handling_seconds_count", scan, 2],
    ["grpc_server_handling_seconds_bucket", { ...scan, le: "+Inf" }, 2],
    ["grpc_server_started_total", batch, 1],
    ["grpc_server_msg_received_total", batch, 3],
    ["grpc_server_msg_sent_total", batch, 3],
    ["grpc_server_handled_total", { ...batch, grpc_code: "OK" }, 1],
    ["grpc_server_handling_seconds_count", batch, 1],
  ];
})();
const PUTS = [{ key: "a", value: "1" }, { key: "b", value: "2" }, { key: "c", value: "3" }];
const OPERATIONS = [{ put: { key: "x", value: "9" } }, { get: { key: "x" } }, { get: { key: "missing" } }];

/** Checks every row of STREAM_ROWS, and that streams made no other series. */
function expectStreamRows(text: string): void {
  for (const [name, labels, value] of STREAM_ROWS) expect(sampleOf(text, name, labels), `${name} ${JSON.stringify(labels)}`).to.equal(value);
  const handled = text.split("\n").filter((line) => line.startsWith("grpc_server_handled_total{"));
  expect(handled, "no other series").to.have.length(4);
  expect(text, "no stream counted as unary").to.not.match(/grpc_type="unary"/);
}

describe("bin/node --metrics-listen (METRICS_LISTEN): Prometheus /metrics, in the stdio and the gRPC mode", () => {
  const startNode = nodesKilledAfterEach();

  it("serves go-grpc-prometheus counters and histogram counts that match a known mix of calls exactly, and the process metrics", async () => {
    const node = startNode({ METRICS_LISTEN: "127.0.0.1:0", RATE_LIMIT_CAPACITY: "3", RATE_LIMIT_REFILL_PER_SEC: "0" });
    const port = await metricsPort(node);
    node.writeLines([
      init(),
      call({ msgId: 2, method: "Put", request: { key: "k1", value: "v" } }), // OK
      call({ msgId: 3, request: { key: "k1" } }), // OK
      call({ msgId: 4, request: { key: "missing" } }), // NOT_FOUND (c1's third token)
      call({ msgId: 5, request: { key: "k1" } }), // RESOURCE_EXHAUSTED
      call({ msgId: 6, src: "c2", metadata: {} }), // UNAUTHENTICATED
      call({ msgId: 7, src: "c3", service: "Foo", method: "Bar" }), // UNIMPLEMENTED
      call({ msgId: 8, src: "c4", method: "Delete", request: { key: "k1" } }), // OK
      stats(9),
    ]);
    const replies = (await node.waitForLines(9)).map((line) => JSON.parse(line) as { body: Record<string, unknown> });
    expect(replies.slice(1, 8).map((r) => r.body["status"])).to.deep.equal(["OK", "OK", "NOT_FOUND", "RESOURCE_EXHAUSTED", "UNAUTHENTICATED", "UNIMPLEMENTED", "OK"]);
    expect(replies[1]?.body["interceptors_applied"]).to.deep.equal(["metrics", "logging", "auth", "rate_limit"]);
    expect(replies[8]?.body["stats"], "grpc_interceptor_stats stays as it is").to.deep.equal({ total_requests: 7, auth_failures: 1, rate_limited: 1 });

    const res = await fetch(`http://127.0.0.1:${port}/metrics`);
    expect([res.status, res.headers.get("content-type")]).to.deep.equal([200, "text/plain; version=0.0.4; charset=utf-8"]);
    const text = await res.text();
    const unary = (service: string, method: string) => ({ grpc_type: "unary", grpc_service: service, grpc_method: method });
    const get = unary("KeyValue", "Get");
    const expected: [string, Record<string, string>, number][] = [
      ["grpc_server_started_total", get, 4],
      ["grpc_server_msg_received_total", get, 4],
      ["grpc_server_msg_sent_total", get, 1],
      ["grpc_server_handled_total", { ...get, grpc_code: "OK" }, 1],
      ["grpc_server_handled_total", { ...get, grpc_code: "NotFound" }, 1],
      ["grpc_server_handled_total", { ...get, grpc_code: "ResourceExhausted" }, 1],
      ["grpc_server_handled_total", { ...get, grpc_code: "Unauthenticated" }, 1],
      ["grpc_server_handling_seconds_count", get, 4],
      ["grpc_server_handling_seconds_bucket", { ...get, le: "+Inf" }, 4],
      ["grpc_server_started_total", unary("KeyValue", "Put"), 1],
      ["grpc_server_msg_sent_total", unary("KeyValue", "Put"), 1],
      ["grpc_server_handled_total", { ...unary("KeyValue", "Put"), grpc_code: "OK" }, 1],
      ["grpc_server_handling_seconds_count", unary("KeyValue", "Put"), 1],
      ["grpc_server_started_total", unary("Foo", "Bar"), 1],
      ["grpc_server_handled_total", { ...unary("Foo", "Bar"), grpc_code: "Unimplemented" }, 1],
      ["grpc_server_handling_seconds_count", unary("Foo", "Bar"), 1],
      ["grpc_server_handled_total", { ...unary("KeyValue", "Delete"), grpc_code: "OK" }, 1],
      ["grpc_server_handling_seconds_count", unary("KeyValue", "Delete"), 1],
    ];
    for (const [name, labels, value] of expected) expect(sampleOf(text, name, labels), `${name} ${JSON.stringify(labels)}`).to.equal(value);
    expect(sampleOf(text, "grpc_server_msg_sent_total", unary("Foo", "Bar")) ?? 0).to.equal(0);
    const handled = text.split("\n").filter((line) => line.startsWith("grpc_server_handled_total{"));
    expect(handled, "no other series").to.have.length(7);
    expect(text).to.match(/^process_cpu_user_seconds_total \d/m);
    expect(text).to.match(/^nodejs_heap_size_total_bytes \d/m);

    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).to.equal(404);
    expect((await fetch(`http://127.0.0.1:${port}/metrics`, { method: "POST" })).status).to.equal(405);
    node.end();
    expect((await node.exited()).code, "the endpoint does not keep the node alive").to.equal(0);
  });

  it("in gRPC mode (--listen) counts the same way: a known mix of calls, each counter and histogram count exactly", async () => {
    const { node, target } = await startGrpcNode({ METRICS_LISTEN: "127.0.0.1:0", RATE_LIMIT_CAPACITY: "4", RATE_LIMIT_REFILL_PER_SEC: "0" });
    const client = createClient(new GrpcTransport({ target }));
    try {
      const port = await metricsPort(node);
      const auth = { metadata: AUTHORIZED };
      const statuses = [
        (await client.call("KeyValue", "Put", { key: "k1", value: "v" }, auth)).status,
        (await client.call("KeyValue", "Get", { key: "k1" }, auth)).status,
        (await client.call("KeyValue", "Get", { key: "missing" }, auth)).status,
        (await client.call("KeyValue", "Get", { key: "k1" })).status, // no token: auth spends none
        (await client.call("KeyValue", "Delete", { key: "k1" }, auth)).status, // the 4th token
        (await client.call("KeyValue", "Get", { key: "k1" }, auth)).status,
      ];
      expect(statuses).to.deep.equal(["OK", "OK", "NOT_FOUND", "UNAUTHENTICATED", "OK", "RESOURCE_EXHAUSTED"]);
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const unary = (method: string) => keyValueLabels("unary", method);
      const expected: [string, Record<string, string>, number][] = [
        ["grpc_server_started_total", unary("Get"), 4],
        ["grpc_server_msg_received_total", unary("Get"), 4],
        ["grpc_server_msg_sent_total", unary("Get"), 1],
        ["grpc_server_handled_total", { ...unary("Get"), grpc_code: "OK" }, 1],
        ["grpc_server_handled_total", { ...unary("Get"), grpc_code: "NotFound" }, 1],
        ["grpc_server_handled_total", { ...unary("Get"), grpc_code: "Unauthenticated" }, 1],
        ["grpc_server_handled_total", { ...unary("Get"), grpc_code: "ResourceExhausted" }, 1],
        ["grpc_server_handling_seconds_count", unary("Get"), 4],
        ["grpc_server_handled_total", { ...unary("Put"), grpc_code: "OK" }, 1],
        ["grpc_server_handling_seconds_count", unary("Put"), 1],
        ["grpc_server_handled_total", { ...unary("Delete"), grpc_code: "OK" }, 1],
        ["grpc_server_handling_seconds_count", unary("Delete"), 1],
      ];
      for (const [name, labels, value] of expected) expect(sampleOf(text, name, labels), `${name} ${JSON.stringify(labels)}`).to.equal(value);
      expect(text.split("\n").filter((line) => line.startsWith("grpc_server_handled_total{")), "no other series").to.have.length(6);
    } finally {
      await client.close();
      node.kill("SIGTERM");
      expect((await node.exited()).code).to.equal(0);
    }
  });

  it("counts streaming calls by their grpc_type, each streamed message, and their handling time once the stream is over (stdio streams)", async () => {
    const node = startNode({ METRICS_LISTEN: "127.0.0.1:0", RATE_LIMIT_CAPACITY: "100", RATE_LIMIT_REFILL_PER_SEC: "0" });
    const port = await metricsPort(node);
    node.writeLines([init(), open(2, "PutMany", "client_stream"), ...PUTS.map((put, i) => streamMsg(3 + i, 2, put)), streamEnd(6, 2)]);
    await node.waitForLines(2);
    node.writeLines([open(7, "Scan", "server_stream", { prefix: "" })]);
    await node.waitForLines(6);
    node.writeLines([open(8, "Batch", "bidi"), ...OPERATIONS.map((operation, i) => streamMsg(9 + i, 8, operation)), streamEnd(12, 8)]);
    await node.waitForLines(10);
    node.writeLines([open(13, "Scan", "server_stream", { prefix: "" }, {})]);
    const bodies = (await node.waitForLines(11)).map((line) => parseReply(line).body);
    const closes = bodies.filter((body) => body.type === "grpc_stream_close").map((body) => [body.in_reply_to, body["status"]]);
    expect(closes).to.deep.equal([[2, "OK"], [7, "OK"], [8, "OK"], [13, "UNAUTHENTICATED"]]);
    expect(bodies.filter((body) => body.type === "grpc_stream_msg").map((body) => body.in_reply_to)).to.deep.equal([7, 7, 7, 8, 8, 8]);

    expectStreamRows(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    node.end();
    expect((await node.exited()).code).to.equal(0);
  });

  it("counts the same streaming calls the same way in gRPC mode (--listen)", async () => {
    const { node, target } = await startGrpcNode({ METRICS_LISTEN: "127.0.0.1:0", RATE_LIMIT_CAPACITY: "100", RATE_LIMIT_REFILL_PER_SEC: "0" });
    const client = createClient(new GrpcTransport({ target }));
    async function* each<T>(items: readonly T[]) {
      yield* items;
    }
    const drain = async (call: AsyncIterable<unknown>): Promise<unknown[]> => {
      const messages: unknown[] = [];
      for await (const message of call) messages.push(message);
      return messages;
    };
    try {
      const port = await metricsPort(node);
      const auth = { metadata: AUTHORIZED };
      expect((await client.clientStream("KeyValue", "PutMany", each(PUTS), auth)).response).to.deep.equal({ written: 3 });
      expect(await drain(client.serverStream("KeyValue", "Scan", { prefix: "" }, auth))).to.have.length(3);
      const results = (await drain(client.bidi("KeyValue", "Batch", each(OPERATIONS), auth))) as { code: number }[];
      expect(results.map((result) => result.code)).to.deep.equal([0, 0, 5]);
      expect((await client.serverStream("KeyValue", "Scan", { prefix: "" }).result).status).to.equal("UNAUTHENTICATED");
      expectStreamRows(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
    } finally {
      await client.close();
      node.kill("SIGTERM");
      expect((await node.exited()).code).to.equal(0);
    }
  });

  it("refuses a bad --metrics-listen with exit 2 and the reason", async () => {
    const node = startNode({ METRICS_LISTEN: "nowhere" });
    expect((await node.exited()).code).to.equal(2);
    expect(node.stderr).to.match(/METRICS_LISTEN must be HOST:PORT/);
  });

  it("--describe shows tracing and metrics first when they are configured, without serving or loading them", async () => {
    const node = NodeProcess.start({ args: ["--describe"], env: { METRICS_LISTEN: "127.0.0.1:0", OTEL_TRACES_EXPORTER: "otlp", NODE_DEBUG: "module" } });
    expect((await node.exited()).code).to.equal(0);
    expect(node.stdout).to.match(/KeyValue\/Get +tracing -> metrics -> logging -> auth -> rate_limit -> handler\n/);
    expect(node.stderr).to.not.match(/prom-client|@opentelemetry|serving \/metrics/);
  });

  it("loads neither prom-client nor OpenTelemetry when nothing is configured", async () => {
    const node = startNode({ NODE_DEBUG: "module" });
    node.writeLines([init()]);
    await node.waitForLines(1);
    node.end();
    await node.exited();
    expect(node.stderr).to.not.match(/prom-client|@opentelemetry/);
    expect(node.stderr).to.match(/koa-compose/, "the probe sees packages that are loaded");
  });
});
