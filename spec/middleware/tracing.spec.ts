import { ProxyTracerProvider, SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { expect } from "chai";
import Koa from "koa";
import { Application } from "../../lib/core/application.js";
import type { CallKind } from "../../lib/core/call-kind.js";
import { CallContext } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { auth } from "../../middleware/auth.js";
import { logging } from "../../middleware/logging.js";
import { tracing } from "../../middleware/tracing.js";
import { traceLogFields } from "../../lib/observability/trace-context.js";
import { createLogger } from "../../lib/logging/logger.js";
import { capturedLogger, serve } from "../support/koa-server.js";
import { memoryTracing, onlySpan } from "../support/otel.js";
import { InMemorySpanExporter, NodeTracerProvider, type ReadableSpan, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { pino } from "pino";

const TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID = "00f067aa0ba902b7";
const TRACEPARENT = `00-${TRACE_ID}-${PARENT_ID}-01`;

function call(metadata: Record<string, string> = {}): CallContext {
  return new CallContext({ service: "KeyValue", method: "Get", request: { key: "k" }, metadata, peer: "c1" });
}

describe("tracing() (server)", () => {
  it("makes one SERVER span per call, named Service/Method, with the rpc.* attributes and the peer", async () => {
    const spans = memoryTracing();
    const app = new Application().use(tracing()).handle((ctx) => void (ctx.response = {}));
    await app.run(call());
    const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Get");
    expect(span.kind).to.equal(SpanKind.SERVER);
    expect(span.attributes).to.deep.equal({ "rpc.system": "grpc", "rpc.service": "KeyValue", "rpc.method": "Get", "client.address": "c1", "rpc.grpc.status_code": 0 });
    expect(span.status.code).to.equal(SpanStatusCode.UNSET);
  });

  it("takes the caller's traceparent from the metadata as the parent, and keeps its tracestate", async () => {
    const spans = memoryTracing();
    await new Application().use(tracing()).handle(() => {}).run(call({ traceparent: TRACEPARENT, tracestate: "vendor=x" }));
    const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Get");
    expect(span.spanContext().traceId).to.equal(TRACE_ID);
    expect(span.parentSpanContext?.spanId).to.equal(PARENT_ID);
    expect(span.parentSpanContext?.isRemote).to.equal(true);
    expect(span.spanContext().traceState?.get("vendor")).to.equal("x");
  });

  it("ignores the context active where the call runs: a server span's parent is what the caller sent", async () => {
    const spans = memoryTracing();
    const app = new Application().use(tracing()).handle(() => {});
    await trace.getTracer("spec").startActiveSpan("ambient", async (ambient) => {
      await app.run(call());
      ambient.end();
    });
    expect(onlySpan(spans.getFinishedSpans(), "KeyValue/Get").parentSpanContext).to.equal(undefined);
  });

  it("sets status ERROR and rpc.grpc.status_code on a non-OK status; a server fault's details stay out", async () => {
    const spans = memoryTracing();
    const app = new Application({ onError: () => {} }).use(tracing()).use(auth({ tokens: ["t"] })).handle(() => {
      throw new Error("disk on fire at /var/secret");
    });
    await app.run(call());
    await app.run(call({ authorization: "Bearer t" }));
    const [refused, faulted] = spans.getFinishedSpans();
    expect([refused?.attributes["rpc.grpc.status_code"], refused?.status]).to.deep.equal([16, { code: SpanStatusCode.ERROR, message: "no authorization metadata" }]);
    expect([faulted?.attributes["rpc.grpc.status_code"], faulted?.status]).to.deep.equal([13, { code: SpanStatusCode.ERROR, message: "INTERNAL" }]);
  });

  it("keeps the span active while the handler runs: the handler's own spans are its children", async () => {
    const spans = memoryTracing();
    const app = new Application().use(tracing()).handle(async () => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      trace.getTracer("spec").startSpan("handler work").end();
    });
    await app.run(call({ traceparent: TRACEPARENT }));
    const finished = spans.getFinishedSpans();
    const server = onlySpan(finished, "KeyValue/Get");
    const child = onlySpan(finished, "handler work");
    expect(child.spanContext().traceId).to.equal(TRACE_ID);
    expect(child.parentSpanContext?.spanId).to.equal(server.spanContext().spanId);
  });

  it("puts trace_id and span_id on the log lines of a traced call (a logger with traceLogFields as its mixin)", async () => {
    const spans = memoryTracing();
    const lines: string[] = [];
    const logger = pino({ mixin: traceLogFields }, { write: (line: string) => void lines.push(line) });
    await new Application().use(tracing()).use(logging({ logger })).handle(() => {}).run(call({ traceparent: TRACEPARENT }));
    const line = JSON.parse(lines[0] as string) as Record<string, unknown>;
    const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Get");
    expect([line["trace_id"], line["span_id"], line["msg"]]).to.deep.equal([TRACE_ID, span.spanContext().spanId, "call"]);
  });

  it("puts them on logging()'s fast line too (a createLogger logger with traceLogFields): pino is not asked", async () => {
    const spans = memoryTracing();
    const { logger } = createLogger({ destination: "/dev/null", mixin: traceLogFields });
    const lines: string[] = [];
    (logger as unknown as Record<symbol, { write(line: string): void }>)[pino.symbols.streamSym]!.write = (line) => void lines.push(line);
    let infoCalls = 0;
    const info = logger.info.bind(logger);
    logger.info = ((...args: Parameters<typeof info>) => void (infoCalls++, info(...args))) as typeof logger.info;
    const app = new Application().use(tracing()).use(logging({ logger })).use(auth({ tokens: ["t"] })).handle(() => {});
    await app.run(call({ traceparent: TRACEPARENT, authorization: "Bearer t" }));
    await app.run(call({ authorization: "Bearer t" }));
    const [first, second] = spans.getFinishedSpans().map((span) => span.spanContext());
    expect(lines.map((line) => JSON.parse(line) as Record<string, unknown>).map((line) => [line["trace_id"], line["span_id"], line["status"]])).to.deep.equal([
      [TRACE_ID, first?.spanId, "OK"],
      [second?.traceId, second?.spanId, "OK"],
    ]);
    expect(infoCalls).to.equal(0);
  });

  it("keeps the wire attribution: a middleware's failure still names it, tracing passes the error on", async () => {
    memoryTracing();
    const app = new Application({ onError: () => {} }).use(tracing()).use(auth({ tokens: ["t"] })).handle(() => {});
    const ctx = call();
    await app.run(ctx);
    expect([ctx.status, ctx.interceptorFailed, ctx.applied]).to.deep.equal([Status.UNAUTHENTICATED, "auth", ["tracing", "auth"]]);
  });

  describe("in Koa", () => {
    it("traces each request from its traceparent header, with the gRPC status of the HTTP answer", async () => {
      const spans = memoryTracing();
      const koa = new Koa();
      koa.use(tracing());
      koa.use(logging({ logger: capturedLogger("info").logger }));
      koa.use(async (ctx) => {
        if (ctx.path === "/kv/missing") throw new StatusError(Status.NOT_FOUND, "no such key");
        trace.getTracer("spec").startSpan("koa handler").end();
        ctx.body = { ok: true };
      });
      koa.on("error", () => {});
      const served = await serve(koa);
      try {
        expect((await fetch(`${served.url}/kv/a`, { headers: { traceparent: TRACEPARENT } })).status).to.equal(200);
        expect((await fetch(`${served.url}/kv/missing`)).status).to.equal(404);
      } finally {
        await served.close();
      }
      const finished = spans.getFinishedSpans();
      const ok = onlySpan(finished, "kv/a");
      expect([ok.kind, ok.spanContext().traceId, ok.parentSpanContext?.spanId]).to.deep.equal([SpanKind.SERVER, TRACE_ID, PARENT_ID]);
      expect(ok.attributes).to.include({ "rpc.service": "kv", "rpc.method": "a", "rpc.grpc.status_code": 0, "client.address": "127.0.0.1" });
      expect(onlySpan(finished, "koa handler").parentSpanContext?.spanId).to.equal(ok.spanContext().spanId);
      const missing = onlySpan(finished, "kv/missing");
      expect([missing.attributes["rpc.grpc.status_code"], missing.status]).to.deep.equal([5, { code: SpanStatusCode.ERROR, message: "no such key" }]);
    });
  });

  describe("streams", () => {
    const stream = (kind: CallKind, request: unknown = {}) => new CallContext({ service: "KeyValue", method: "Scan", request, peer: "c1", kind });
    async function* messages(n: number) {
      for (let i = 1; i <= n; i++) yield { i };
    }
    const events = (span: ReadableSpan) => span.events.map((event) => [event.name, event.attributes?.["message.type"], event.attributes?.["message.id"]]);
    const written: unknown[] = [];
    const send = (message: unknown): void => void written.push(message); // the host writes the stream

    it("gives a server stream one span with a SENT message event per message, counted from 1", async () => {
      const spans = memoryTracing();
      const app = new Application().use(tracing()).handle((ctx) => void (ctx.response = messages(3)));
      await app.run(stream("server_stream"), send);
      const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Scan");
      expect(events(span)).to.deep.equal([["message", "SENT", 1], ["message", "SENT", 2], ["message", "SENT", 3]]);
      expect([span.attributes["rpc.grpc.status_code"], span.status.code]).to.deep.equal([0, SpanStatusCode.UNSET]);
    });

    it("gives a bidi call RECEIVED and SENT events, each direction counted on its own", async () => {
      const spans = memoryTracing();
      const app = new Application().use(tracing()).handle((ctx) => {
        ctx.response = (async function* () {
          for await (const request of ctx.request as AsyncIterable<{ i: number }>) if (request.i !== 2) yield request;
          yield { i: 9 };
        })();
      });
      await app.run(stream("bidi", messages(3)), send);
      const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Scan");
      expect(events(span)).to.deep.equal([
        ["message", "RECEIVED", 1],
        ["message", "SENT", 1],
        ["message", "RECEIVED", 2],
        ["message", "RECEIVED", 3],
        ["message", "SENT", 2],
        ["message", "SENT", 3],
      ]);
    });

    it("keeps the span active across the handler's yields: a span started after a yield is its child", async () => {
      const spans = memoryTracing();
      const app = new Application().use(tracing()).handle((ctx) => {
        ctx.response = (async function* () {
          yield { i: 1 };
          await new Promise((resolve) => setTimeout(resolve, 1));
          trace.getTracer("spec").startSpan("after a yield").end();
          yield { i: 2 };
        })();
      });
      // The host runs the call from a context of its own; the handler's steps still see the call's span.
      await trace.getTracer("spec").startActiveSpan("host", async (host) => {
        await app.run(stream("server_stream", {}), send);
        host.end();
      });
      const finished = spans.getFinishedSpans();
      expect(onlySpan(finished, "after a yield").parentSpanContext?.spanId).to.equal(onlySpan(finished, "KeyValue/Scan").spanContext().spanId);
    });

    it("leaves the context a middleware inside it makes active to the handler's steps", async () => {
      const spans = memoryTracing();
      const app = new Application()
        .use(tracing())
        .use(function inner(_ctx, next) {
          return trace.getTracer("spec").startActiveSpan("inner", (span) => Promise.resolve(next()).finally(() => span.end()));
        })
        .handle((ctx) => {
          ctx.response = (async function* () {
            yield { i: 1 };
            trace.getTracer("spec").startSpan("after a yield").end();
            yield { i: 2 };
          })();
        });
      await app.run(stream("server_stream"), send);
      const finished = spans.getFinishedSpans();
      expect(onlySpan(finished, "after a yield").parentSpanContext?.spanId).to.equal(onlySpan(finished, "inner").spanContext().spanId);
    });

    it("ends the span with status ERROR when the handler fails on message K, after K - 1 SENT events", async () => {
      const spans = memoryTracing();
      const app = new Application({ onError: () => {} }).use(tracing()).handle((ctx) => {
        ctx.response = (async function* () {
          yield { i: 1 };
          yield { i: 2 };
          throw new StatusError(Status.DATA_LOSS, "page 3 is gone");
        })();
      });
      await app.run(stream("server_stream"), send);
      const span = onlySpan(spans.getFinishedSpans(), "KeyValue/Scan");
      expect(events(span)).to.deep.equal([["message", "SENT", 1], ["message", "SENT", 2]]);
      expect([span.attributes["rpc.grpc.status_code"], span.status]).to.deep.equal([15, { code: SpanStatusCode.ERROR, message: "DATA_LOSS" }]);
    });

    it("with no SDK wraps no stream: the call costs what it did", async () => {
      const app = new Application().use(tracing({ tracerProvider: new ProxyTracerProvider() })).handle((ctx) => void (ctx.response = messages(2)));
      const ctx = stream("bidi", messages(1));
      let wraps = 0;
      ctx.wrapRequest = ctx.wrapResponse = () => void wraps++;
      await app.run(ctx, send);
      expect([ctx.status, wraps]).to.deep.equal([Status.OK, 0]);
    });
  });

  it("with no SDK (the API's no-op provider) passes the call through: no span is made active", async () => {
    let active: unknown = "unset";
    const app = new Application().use(tracing({ tracerProvider: new ProxyTracerProvider() })).handle(() => void (active = trace.getActiveSpan()));
    const ctx = call();
    await app.run(ctx);
    expect([ctx.status, ctx.applied, active]).to.deep.equal([Status.OK, ["tracing"], undefined]);
  });

  it("with no SDK, still carries on a trace the caller sent: the handler runs in it, unrecorded", async () => {
    memoryTracing(); // the W3C propagator, registered globally
    let active: unknown;
    const app = new Application().use(tracing({ tracerProvider: new ProxyTracerProvider() })).handle(() => void (active = trace.getActiveSpan()?.spanContext()));
    await app.run(call({ traceparent: TRACEPARENT }));
    expect(active).to.deep.include({ traceId: TRACE_ID, spanId: PARENT_ID });
  });

  it("uses an SDK registered behind the global provider after tracing() was made", async () => {
    const spans = new InMemorySpanExporter();
    const provider = new ProxyTracerProvider();
    const app = new Application().use(tracing({ tracerProvider: provider })).handle(() => {});
    await app.run(call());
    provider.setDelegate(new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }));
    await app.run(call());
    expect(spans.getFinishedSpans().map((span) => [span.name, span.attributes["client.address"]])).to.deep.equal([["KeyValue/Get", "c1"]]);
  });

  it("tracing(options) refuses a tracerProvider without getTracer() when called", () => {
    expect(() => tracing({ tracerProvider: {} as never })).to.throw(TypeError, /tracerProvider/);
    expect(() => tracing({ system: "" })).to.throw(TypeError, /system/);
  });
});
