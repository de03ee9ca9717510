import { expect } from "chai";
import Koa from "koa";
import { Registry } from "prom-client";
import { Application } from "../../lib/core/application.js";
import type { CallKind } from "../../lib/core/call-kind.js";
import { CallContext } from "../../lib/core/context.js";
import { Status, type StatusName } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { goCodeName } from "../../lib/observability/codes.js";
import { auth } from "../../middleware/auth.js";
import { metrics } from "../../middleware/metrics.js";
import { serve } from "../support/koa-server.js";
import { sample } from "../support/prometheus.js";

const GET = { grpc_type: "unary", grpc_service: "KeyValue", grpc_method: "Get" };

describe("metrics() (server)", () => {
  let registry: Registry;
  beforeEach(() => {
    registry = new Registry();
  });

  function call(metadata: Record<string, string> = {}, method = "Get"): CallContext {
    return new CallContext({ service: "KeyValue", method, request: {}, metadata, peer: "c1" });
  }

  it("counts started, handled by grpc_code, messages each way and the handling time, with go-grpc-prometheus names", async () => {
    let now = 0;
    const app = new Application({ onError: () => {} })
      .use(metrics({ registry, now: () => now }))
      .use(auth({ tokens: ["t"] }))
      .handle((ctx) => {
        now += 30; // 30 ms
        if ((ctx.request as { missing?: boolean }).missing) ctx.status = Status.NOT_FOUND;
      });
    await app.run(call({ authorization: "Bearer t" }));
    await app.run(call({ authorization: "Bearer t" }));
    await app.run(new CallContext({ service: "KeyValue", method: "Get", request: { missing: true }, metadata: { authorization: "Bearer t" }, peer: "c1" }));
    await app.run(call());
    expect(await sample(registry, "grpc_server_started_total", GET)).to.equal(4);
    expect(await sample(registry, "grpc_server_msg_received_total", GET)).to.equal(4);
    expect(await sample(registry, "grpc_server_msg_sent_total", GET)).to.equal(2);
    expect(await sample(registry, "grpc_server_handled_total", { ...GET, grpc_code: "OK" })).to.equal(2);
    expect(await sample(registry, "grpc_server_handled_total", { ...GET, grpc_code: "NotFound" })).to.equal(1);
    expect(await sample(registry, "grpc_server_handled_total", { ...GET, grpc_code: "Unauthenticated" })).to.equal(1);
    expect(await sample(registry, "grpc_server_handling_seconds_count", GET)).to.equal(4);
    expect(await sample(registry, "grpc_server_handling_seconds_bucket", { ...GET, le: "0.025" })).to.equal(1);
    expect(await sample(registry, "grpc_server_handling_seconds_bucket", { ...GET, le: "0.05" })).to.equal(4);
    expect(await sample(registry, "grpc_server_handling_seconds_sum", GET)).to.be.closeTo(0.09, 1e-9);
  });

  it("labels grpc_type by the host's kind of call and counts each streamed message", async () => {
    const call = (kind: CallKind, request: unknown) => new CallContext({ service: "KeyValue", method: "Scan", request, peer: "c1", kind });
    async function* messages(n: number) {
      for (let i = 0; i < n; i++) yield { i };
    }
    const app = new Application().use(metrics({ registry })).handle(async (ctx) => {
      let received = 0;
      if (ctx.request !== null && typeof ctx.request === "object" && Symbol.asyncIterator in ctx.request) for await (const _ of ctx.request as AsyncIterable<unknown>) received++;
      ctx.response = messages(received + 2);
    });
    const written: unknown[] = [];
    const send = (message: unknown): void => void written.push(message); // the host writes the stream
    await app.run(call("server_stream", {}), send);
    await app.run(call("bidi", messages(3)), send);
    expect(written).to.have.length(7);
    const scan = (type: string) => ({ grpc_type: type, grpc_service: "KeyValue", grpc_method: "Scan" });
    expect([await sample(registry, "grpc_server_msg_received_total", scan("server_stream")), await sample(registry, "grpc_server_msg_sent_total", scan("server_stream"))]).to.deep.equal([1, 2]);
    expect([await sample(registry, "grpc_server_msg_received_total", scan("bidi_stream")), await sample(registry, "grpc_server_msg_sent_total", scan("bidi_stream"))]).to.deep.equal([3, 5]);
    expect(await sample(registry, "grpc_server_handled_total", { ...scan("bidi_stream"), grpc_code: "OK" })).to.equal(1);
  });

  it("never labels a series per client", async () => {
    const app = new Application().use(metrics({ registry })).handle(() => {});
    for (const peer of ["a", "b", "c"]) await app.run(new CallContext({ service: "S", method: "M", request: {}, peer }));
    expect(await registry.metrics()).to.not.match(/peer|client=|"a"|"b"/);
    expect(await sample(registry, "grpc_server_started_total", { grpc_type: "unary", grpc_service: "S", grpc_method: "M" })).to.equal(3);
  });

  it("counts methods past maxMethods as service and method \"unknown\", so callers cannot grow the series without bound", async () => {
    const app = new Application({ onError: () => {} }).use(metrics({ registry, maxMethods: 2 })).handle(() => {});
    for (const method of ["A", "B", "C", "D"]) await app.run(call({}, method));
    expect(await sample(registry, "grpc_server_started_total", { ...GET, grpc_method: "B" })).to.equal(1);
    expect(await sample(registry, "grpc_server_started_total", { ...GET, grpc_method: "C" })).to.equal(undefined);
    expect(await sample(registry, "grpc_server_started_total", { grpc_type: "unary", grpc_service: "unknown", grpc_method: "unknown" })).to.equal(2);
  });

  it("counts a method name two services share, and one method called as two kinds, each in its own series", async () => {
    const app = new Application().use(metrics({ registry })).handle(() => {});
    const run = (service: string, times: number) => Promise.all(Array.from({ length: times }, () => app.run(new CallContext({ service, method: "Get", request: {}, peer: "c1" }))));
    await run("KeyValue", 1);
    await run("Cache", 2);
    await run("KeyValue", 3);
    await app.run(new CallContext({ service: "KeyValue", method: "Get", kind: "client_stream" as CallKind, request: (async function* () {})(), peer: "c1" }));
    expect(await sample(registry, "grpc_server_started_total", GET)).to.equal(4);
    expect(await sample(registry, "grpc_server_started_total", { ...GET, grpc_service: "Cache" })).to.equal(2);
    expect(await sample(registry, "grpc_server_started_total", { ...GET, grpc_type: "client_stream" })).to.equal(1);
  });

  it("two metrics() on one registry count into the same series", async () => {
    await new Application().use(metrics({ registry })).handle(() => {}).run(call());
    await new Application().use(metrics({ registry })).handle(() => {}).run(call());
    expect(await sample(registry, "grpc_server_started_total", GET)).to.equal(2);
  });

  it("spells grpc_code as grpc-go does, for all seventeen statuses", () => {
    expect(Object.values(goCodeName)).to.deep.equal([
      "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound", "AlreadyExists", "PermissionDenied",
      "ResourceExhausted", "FailedPrecondition", "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated",
    ]);
    expect(Object.keys(goCodeName)).to.deep.equal(Object.keys(Status) as StatusName[]);
  });

  it("counts Koa requests under the service and method of their path and the gRPC status of the answer", async () => {
    const koa = new Koa();
    koa.use(metrics({ registry }));
    koa.use(async (ctx) => {
      if (ctx.path === "/kv/limited") throw new StatusError(Status.RESOURCE_EXHAUSTED, "slow down");
      ctx.body = "ok";
    });
    koa.on("error", () => {});
    const served = await serve(koa);
    try {
      await fetch(`${served.url}/kv/a`);
      await fetch(`${served.url}/kv/limited`);
    } finally {
      await served.close();
    }
    expect(await sample(registry, "grpc_server_handled_total", { grpc_type: "unary", grpc_service: "kv", grpc_method: "a", grpc_code: "OK" })).to.equal(1);
    expect(await sample(registry, "grpc_server_handled_total", { grpc_type: "unary", grpc_service: "kv", grpc_method: "limited", grpc_code: "ResourceExhausted" })).to.equal(1);
  });

  it("prints the histogram as prom-client does (cumulative buckets, le as a label, +Inf, _sum, _count) and resets with the registry", async () => {
    const app = new Application().use(metrics({ registry, now: () => 0, buckets: [0.1, 0.005] })).handle(() => {});
    await app.run(call());
    const text = await registry.metrics();
    expect(text).to.include('grpc_server_handling_seconds_bucket{grpc_type="unary",grpc_service="KeyValue",grpc_method="Get",le="0.005"} 1\n');
    expect(text).to.include('grpc_server_handling_seconds_bucket{grpc_type="unary",grpc_service="KeyValue",grpc_method="Get",le="+Inf"} 1\n');
    expect(text).to.include("# TYPE grpc_server_handling_seconds histogram\n");
    registry.resetMetrics();
    expect(await sample(registry, "grpc_server_started_total", GET)).to.equal(0);
    expect(await sample(registry, "grpc_server_handling_seconds_count", GET)).to.equal(0);
  });

  it("refuses a registry that already has a metric of one of its names", () => {
    const taken = new Registry();
    taken.registerMetric({ name: "grpc_server_started_total", get: async () => ({}), reset: () => {} } as never);
    expect(() => metrics({ registry: taken })).to.throw(/already has a metric named grpc_server_started_total/);
  });

  it("metrics(options) refuses a registry that is not one when called", () => {
    expect(() => metrics({ registry: {} as Registry })).to.throw(TypeError, /registry/);
  });
});
