import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { expect } from "chai";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { Application } from "../../../lib/core/application.js";
import { Status } from "../../../lib/core/status.js";
import { tracing } from "../../../middleware/client/tracing.js";
import { memoryTracing, onlySpan } from "../../support/otel.js";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-node";

describe("tracing() (client)", () => {
  it("makes one CLIENT span per call, a child of the active span, and sends its context as traceparent", async () => {
    const spans = memoryTracing();
    const sent: (string | undefined)[] = [];
    const server = new Application().handle((ctx) => void sent.push(ctx.metadata.get("traceparent")));
    const client = createClient(new InProcessTransport(server)).use(tracing({ serverAddress: "n1" }));
    await trace.getTracer("spec").startActiveSpan("work", async (work) => {
      await client.call("KeyValue", "Get", { key: "k" });
      work.end();
    });
    const finished = spans.getFinishedSpans();
    const span = onlySpan(finished, "KeyValue/Get");
    expect(span.kind).to.equal(SpanKind.CLIENT);
    expect(span.attributes).to.deep.equal({ "rpc.system": "grpc", "rpc.service": "KeyValue", "rpc.method": "Get", "server.address": "n1", "rpc.grpc.status_code": 0 });
    expect(span.parentSpanContext?.spanId).to.equal(onlySpan(finished, "work").spanContext().spanId);
    expect(sent).to.deep.equal([`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`]);
  });

  it("sets status ERROR with the outcome's message on any status other than OK", async () => {
    const spans = memoryTracing();
    const server = new Application().handle((ctx) => void (ctx.status = Status.NOT_FOUND));
    await createClient(new InProcessTransport(server)).use(tracing()).call("KeyValue", "Get", {});
    const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Get");
    expect(span.attributes["rpc.grpc.status_code"]).to.equal(5);
    expect(span.status).to.deep.equal({ code: SpanStatusCode.ERROR, message: "KeyValue/Get: the server answered NOT_FOUND" });
  });

  describe("streams", () => {
    async function* messages(n: number) {
      for (let i = 1; i <= n; i++) yield { i };
    }
    const events = (span: ReadableSpan, type: string) => span.events.filter((event) => event.attributes?.["message.type"] === type).map((event) => [event.name, event.attributes?.["message.id"]]);
    // Echoes every request message of a bidi call; answers a client stream with how many came.
    const server = new Application().handle(async (ctx) => {
      if (ctx.kind === "client_stream") {
        let count = 0;
        for await (const _ of ctx.request as AsyncIterable<unknown>) count++;
        ctx.response = { count };
      } else ctx.response = ctx.request;
    });

    it("gives a bidi call one span with SENT and RECEIVED message events, each counted from 1", async () => {
      const spans = memoryTracing();
      const call = createClient(new InProcessTransport(server)).use(tracing()).bidi("KeyValue", "Echo", messages(3));
      const received: unknown[] = [];
      for await (const message of call) received.push(message);
      expect(received).to.have.length(3);
      const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Echo");
      expect(events(span, "SENT")).to.deep.equal([["message", 1], ["message", 2], ["message", 3]]);
      expect(events(span, "RECEIVED")).to.deep.equal([["message", 1], ["message", 2], ["message", 3]]);
      expect(span.attributes["rpc.grpc.status_code"]).to.equal(0);
    });

    it("gives a client stream a SENT event per request message", async () => {
      const spans = memoryTracing();
      const result = await createClient(new InProcessTransport(server)).use(tracing()).clientStream("KeyValue", "Count", messages(2));
      expect(result.response).to.deep.equal({ count: 2 });
      const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Count");
      expect([events(span, "SENT"), events(span, "RECEIVED")]).to.deep.equal([[["message", 1], ["message", 2]], []]);
    });
  });
});
