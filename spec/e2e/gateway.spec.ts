import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import { expect } from "chai";
import { gateway, keyValueNode } from "../../examples/gateway.js";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { MemoryStore } from "../../lib/key-value/key-value.js";
import { Status } from "../../lib/core/status.js";
import { memoryTracing, onlySpan } from "../support/otel.js";

// examples/gateway.ts does what its header says.

describe("examples/gateway: gateway() calling keyValueNode() through the client pipeline", () => {
  function setUp(latencyMs = 0) {
    const store = new MemoryStore();
    store.set("profile/ada", "Ada Lovelace");
    const seen: { method: string; userId: string | undefined; aborted: boolean }[] = [];
    const kv = keyValueNode({ token: "gateway-token", store, latencyMs, onCall: (s) => void seen.push(s) });
    const { app } = gateway({ keyValue: new InProcessTransport(kv, { peer: "gateway" }), keyValueToken: "gateway-token", tokens: ["user-token"] });
    const caller = createClient(new InProcessTransport(app, { peer: "browser" }));
    return { seen, caller };
  }
  const metadata = { authorization: "Bearer user-token", "x-user-id": "ada" };

  it("answers through KeyValue with one trace: gateway SERVER span -> CLIENT span -> KeyValue SERVER span", async () => {
    const spans = memoryTracing();
    const { caller } = setUp();
    const result = await caller.call("Gateway", "Profile", { user: "ada" }, { metadata });
    expect([result.status, result.response]).to.deep.equal([Status.OK, { user: "ada", profile: "Ada Lovelace" }]);
    const finished = spans.getFinishedSpans();
    const gatewaySpan = onlySpan(finished, "Gateway/Profile");
    const client = finished.find((span) => span.name === "KeyValue/Get" && span.kind === SpanKind.CLIENT);
    const server = finished.find((span) => span.name === "KeyValue/Get" && span.kind === SpanKind.SERVER);
    expect(finished).to.have.length(3);
    expect(new Set(finished.map((span) => span.spanContext().traceId)).size).to.equal(1);
    expect(client?.parentSpanContext?.spanId).to.equal(gatewaySpan.spanContext().spanId);
    expect(server?.parentSpanContext?.spanId).to.equal(client?.spanContext().spanId);
  });

  it("delivers the caller's x-user-id to the KeyValue node; the caller's token stays at the gateway", async () => {
    const { seen, caller } = setUp();
    await caller.call("Gateway", "Profile", { user: "ada" }, { metadata });
    expect(seen).to.deep.equal([{ method: "Get", userId: "ada", aborted: false }]);
    const direct = await createClient(new InProcessTransport(keyValueNode({ token: "gateway-token" }))).call("KeyValue", "Get", { key: "k" }, { metadata });
    expect(direct.status, "the user's token is no good at the KeyValue node").to.equal(Status.UNAUTHENTICATED);
  });

  it("cuts the inner call short with the deadline set by the gateway's caller: DEADLINE_EXCEEDED on both spans", async () => {
    const spans = memoryTracing();
    const { seen, caller } = setUp(2000);
    const start = performance.now();
    const result = await caller.call("Gateway", "Profile", { user: "ada" }, { metadata, timeoutMs: 100 });
    expect(result.status).to.equal(Status.DEADLINE_EXCEEDED);
    expect(performance.now() - start).to.be.below(1000);
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(seen).to.deep.equal([{ method: "Get", userId: "ada", aborted: true }]);
    const kvSpans = spans.getFinishedSpans().filter((span) => span.name === "KeyValue/Get");
    expect(kvSpans.map((span) => [span.attributes["rpc.grpc.status_code"], span.status.code])).to.deep.equal([[4, SpanStatusCode.ERROR], [4, SpanStatusCode.ERROR]]);
  });
});
