import { context, trace } from "@opentelemetry/api";
import { expect } from "chai";
import { observeMessages } from "../../lib/observability/messages.js";
import { memoryTracing, onlySpan } from "../support/otel.js";

describe("observeMessages()", () => {
  it("calls the hook with each message in order and yields them unchanged", async () => {
    async function* three() {
      yield "a";
      yield "b";
      yield "c";
    }
    const seen: [string, number][] = [];
    const out: string[] = [];
    for await (const message of observeMessages(three(), (m, i) => seen.push([m, i]))) out.push(message);
    expect([out, seen]).to.deep.equal([["a", "b", "c"], [["a", 0], ["b", 1], ["c", 2]]]);
  });

  it("keeps the call's span active across the generator's yields, though the consumer resumes it from elsewhere", async () => {
    const spans = memoryTracing();
    const tracer = trace.getTracer("spec");
    const call = tracer.startSpan("call");
    async function* handler() {
      for (let i = 0; i < 2; i++) {
        await new Promise((resolve) => setImmediate(resolve));
        tracer.startSpan(`work ${i}`).end();
        yield i;
      }
    }
    const consumer = tracer.startSpan("consumer");
    await context.with(trace.setSpan(context.active(), consumer), async () => {
      for await (const _ of observeMessages(handler(), () => {}, (step) => context.with(trace.setSpan(context.active(), call), step))) void _;
    });
    call.end();
    consumer.end();
    const finished = spans.getFinishedSpans();
    for (const name of ["work 0", "work 1"]) expect(onlySpan(finished, name).parentSpanContext?.spanId, name).to.equal(call.spanContext().spanId);
  });

  it("passes a break on to the source (its finally runs)", async () => {
    let closed = false;
    async function* endless() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    for await (const i of observeMessages(endless(), () => {})) if (i === 2) break;
    expect(closed).to.equal(true);
  });
});
