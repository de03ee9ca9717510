import { expect } from "chai";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import { Application } from "../../../lib/core/application.js";
import type { CallContext } from "../../../lib/core/context.js";
import { Status } from "../../../lib/core/status.js";
import { StatusError } from "../../../lib/core/status-error.js";
import { propagate as propagateOut } from "../../../middleware/client/propagate.js";
import { tracing as tracingOut } from "../../../middleware/client/tracing.js";
import { propagate } from "../../../middleware/propagate.js";
import { tracing } from "../../../middleware/tracing.js";
import { memoryTracing, onlySpan } from "../../support/otel.js";

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/** What the inner server saw of one call. */
interface Seen {
  readonly metadata: Record<string, string>;
  readonly aborted: boolean;
  readonly reason: unknown;
}

/** Waits until the call's signal aborts (then fails with its reason) or `ms` pass. */
function waitForAbort(ctx: CallContext, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(StatusError.from(ctx.signal?.reason));
    };
    const timer = setTimeout(() => {
      ctx.signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    ctx.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A caller -> outer server -> inner server hop: the outer handler runs `handler`, which calls
 * the inner server through a client with propagate(); the inner server records what it saw.
 */
function hop(options: { metadata?: string[]; now?: () => number; innerWaitMs?: number; traced?: boolean; handler?: (call: (opts?: { timeoutMs?: number; metadata?: Record<string, string> }) => Promise<unknown>) => Promise<unknown> }) {
  const seen: Seen[] = [];
  let inner = new Application({ onError: () => {} });
  if (options.traced) inner = inner.use(tracing());
  inner = inner.use(async function record(ctx, next) {
    try {
      if (options.innerWaitMs !== undefined) await waitForAbort(ctx, options.innerWaitMs);
      await next();
    } finally {
      seen.push({ metadata: ctx.metadata.toObject(), aborted: ctx.signal?.aborted ?? false, reason: ctx.signal?.reason });
    }
  });
  inner.handle((ctx) => void (ctx.response = { ok: true }));
  let kv = createClient(new InProcessTransport(inner)).use(propagateOut());
  if (options.traced) kv = kv.use(tracingOut());
  const call = (opts: { timeoutMs?: number; metadata?: Record<string, string> } = {}) => kv.call("KeyValue", "Get", { key: "k" }, opts);
  let outer = new Application({ onError: () => {} });
  if (options.traced) outer = outer.use(tracing());
  outer = outer.use(propagate({ metadata: options.metadata ?? [], ...(options.now === undefined ? {} : { now: options.now }) }));
  outer.handle(async (ctx) => {
    ctx.response = await (options.handler ?? ((c) => c()))(call);
  });
  return { seen, caller: createClient(new InProcessTransport(outer, { peer: "browser" })) };
}

describe("propagate() (client) with propagate() (server): inbound -> outbound", () => {
  it("carries the named metadata keys, and nothing else: never authorization unless named", async () => {
    const { seen, caller } = hop({ metadata: ["x-user-id", "X-Request-Id"] });
    const metadata = { "x-user-id": "ada", "x-request-id": "r-1", authorization: "Bearer user-token", cookie: "s=1", "x-other": "no" };
    expect((await caller.call("Gateway", "Profile", {}, { metadata })).status).to.equal(Status.OK);
    expect(seen[0]?.metadata).to.deep.equal({ "x-user-id": "ada", "x-request-id": "r-1" });
  });

  it("lets a key the handler sets itself win over the inbound one", async () => {
    const { seen, caller } = hop({ metadata: ["x-user-id"], handler: (call) => call({ metadata: { "x-user-id": "gateway" } }) });
    await caller.call("Gateway", "Profile", {}, { metadata: { "x-user-id": "ada" } });
    expect(seen[0]?.metadata["x-user-id"]).to.equal("gateway");
  });

  it("shrinks the deadline across the hop: what is left of the inbound grpc-timeout, never more", async () => {
    let now = 0;
    const { seen, caller } = hop({
      now: () => now,
      handler: async (call) => {
        now += 300; // the handler worked 300 ms before calling out
        await call();
        await call({ timeoutMs: 5000 }); // a longer deadline of its own cannot extend it
        return call({ timeoutMs: 100 }); // a shorter one wins
      },
    });
    await caller.call("Gateway", "Profile", {}, { metadata: { "grpc-timeout": "1S" } });
    expect(seen.map((s) => s.metadata["grpc-timeout"])).to.deep.equal(["700m", "700m", "100m"]);
  });

  it("fails an outbound call with DEADLINE_EXCEEDED, unsent, once the inbound deadline has passed", async () => {
    let now = 0;
    const { seen, caller } = hop({ now: () => now, handler: async (call) => ((now += 1001), call()) });
    const result = await caller.call("Gateway", "Profile", {}, { metadata: { "grpc-timeout": "1000m" } });
    expect((result.response as { status: string }).status).to.equal(Status.DEADLINE_EXCEEDED);
    expect(seen).to.have.length(0);
  });

  it("cuts the inner call short at the inbound deadline: the inner server sees the abort", async () => {
    const { seen, caller } = hop({ innerWaitMs: 5000 });
    const start = performance.now();
    const result = await caller.call("Gateway", "Profile", {}, { metadata: { "grpc-timeout": "50m" } }); // the caller itself waits
    // Both timers run out at the same moment: the gateway's own call ends DEADLINE_EXCEEDED (the
    // core enforces grpc-timeout too), or its handler answers first with the inner call's status.
    const seenByCaller = result.status === Status.OK ? (result.response as { status: string }).status : result.status;
    expect(seenByCaller).to.equal(Status.DEADLINE_EXCEEDED);
    expect(performance.now() - start).to.be.below(1000);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen[0]?.aborted).to.equal(true);
    expect(StatusError.from(seen[0]?.reason).code).to.equal(Status.DEADLINE_EXCEEDED);
  });

  it("cancels the outbound call when the inbound one is cancelled", async () => {
    const { seen, caller } = hop({ innerWaitMs: 5000 });
    const controller = new AbortController();
    const pending = caller.call("Gateway", "Profile", {}, { signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    expect((await pending).status).to.equal(Status.CANCELLED);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(seen[0]?.aborted).to.equal(true);
    expect(StatusError.from(seen[0]?.reason).code).to.equal(Status.CANCELLED);
  });

  it("carries the trace: one trace, outer server span -> client span -> inner server span", async () => {
    const spans = memoryTracing();
    const { caller } = hop({ traced: true });
    await caller.call("Gateway", "Profile", {}, { metadata: { traceparent: TRACEPARENT } });
    const finished = spans.getFinishedSpans();
    const outer = onlySpan(finished, "Gateway/Profile");
    const [client, innerServer] = finished.filter((span) => span.name === "KeyValue/Get").sort((a, b) => a.kind - b.kind).reverse();
    expect(new Set(finished.map((span) => span.spanContext().traceId))).to.deep.equal(new Set(["4bf92f3577b34da6a3ce929d0e0e4736"]));
    expect(client?.parentSpanContext?.spanId).to.equal(outer.spanContext().spanId);
    expect(innerServer?.parentSpanContext?.spanId).to.equal(client?.spanContext().spanId);
  });

  it("forwards the inbound traceparent and tracestate unchanged when no span is active to inject", async () => {
    const { seen, caller } = hop({});
    await caller.call("Gateway", "Profile", {}, { metadata: { traceparent: TRACEPARENT, tracestate: "v=1" } });
    expect(seen[0]?.metadata).to.deep.equal({ traceparent: TRACEPARENT, tracestate: "v=1" });
  });

  it("does nothing outside a handled call", async () => {
    const seen: Record<string, string>[] = [];
    const app = new Application().handle((ctx) => void seen.push(ctx.metadata.toObject()));
    const result = await createClient(new InProcessTransport(app)).use(propagateOut()).call("S", "M", {}, { metadata: { a: "1" } });
    expect([result.status, seen]).to.deep.equal([Status.OK, [{ a: "1" }]]);
  });

  it("propagate(options) refuses a metadata key that is not a header name when called", () => {
    expect(() => propagate({ metadata: ["x user"] })).to.throw(TypeError, /header names/);
  });
});
