import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { expect } from "chai";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { Application } from "../../../lib/core/application.js";
import { Status } from "../../../lib/core/status.js";
import { tracing } from "../../../middleware/client/tracing.js";
import { memoryTracing, onlySpan } from "../../support/otel.js";

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
});
