import { expect } from "chai";
import { Application } from "../../../lib/core/application.js";
import type { CallContext } from "../../../lib/core/context.js";
import type { Next } from "../../../lib/core/middleware.js";
import { bidi, clientStream, defineService, router, serverStream } from "../../../lib/core/service.js";
import { Status } from "../../../lib/core/status.js";
import { StatusError } from "../../../lib/core/status-error.js";
import { when } from "../../../lib/core/when.js";
import { KEYVALUE_PROTO } from "../../../lib/grpc/proto-files.js";
import { GrpcCallContext } from "../../../lib/hosts/grpc/grpc-call-context.js";
import { GrpcHost } from "../../../lib/hosts/grpc/grpc-host.js";
import { keyValueService } from "../../../lib/key-value/key-value.js";
import { rateLimit } from "../../../middleware/rate-limit.js";
import { bareClient, bearer, grpc, HEALTH_PROTO, healthCheck, readAll, reflectedServices, richStatus, unary } from "../../support/bare-grpc.js";
import { MemoryLogger } from "../../support/servers.js";

const until = (signal: AbortSignal): Promise<unknown> => new Promise((resolve) => signal.addEventListener("abort", () => resolve(signal.reason), { once: true }));
const tick = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A KeyValue application whose handlers let the specs watch the host: the real Put, and hooks elsewhere. */
function testApp() {
  const seen: GrpcCallContext[] = [];
  const aborts: unknown[] = [];
  const stream = { produced: 0, finished: false };
  const kv = keyValueService();
  const service = defineService("KeyValue", {
    Put: kv.methods["Put"]!,
    async Get(request: unknown, ctx: CallContext) {
      const key = (request as { key: string }).key;
      if (key === "slow") {
        aborts.push(await until(ctx.signal!));
        throw ctx.signal!.reason;
      }
      if (key === "boom") throw new Error("secret detail of a server fault");
      if (key === "missing") {
        ctx.status = Status.NOT_FOUND;
        return { key, found: false };
      }
      return { key, value: `value of ${key}`, found: true };
    },
    Delete: (request: unknown) => ({ key: (request as { key: string }).key, deleted: false }),
    Scan: serverStream((request: unknown) => {
      const { prefix, limit } = request as { prefix: string; limit: number };
      return (async function* scan() {
        try {
          for (let i = 0; i < (limit === 0 ? Infinity : limit); i++) {
            stream.produced++;
            yield { key: `${prefix}${i}`, value: "x".repeat(1024) };
          }
        } finally {
          stream.finished = true;
        }
      })();
    }),
    Watch: serverStream((_request: unknown, ctx: CallContext) => {
      return (async function* watch() {
        ctx.sendHeaders();
        aborts.push(await until(ctx.signal!));
        yield* [];
      })();
    }),
    PutMany: clientStream(async (request: unknown, ctx: CallContext) => {
      let written = 0;
      for await (const item of request as AsyncIterable<{ key: string; value: string }>) {
        if (item.key === "slow") aborts.push(await until(ctx.signal!));
        if (item.key !== "") written++;
      }
      return { written };
    }),
    Batch: bidi((request: unknown) => {
      return (async function* batch() {
        for await (const operation of request as AsyncIterable<{ op: string; get?: { key: string } }>) {
          yield operation.op === "get" ? { code: 0, get: { key: operation.get!.key, value: "v", found: true } } : { code: 3 };
        }
      })();
    }),
  });
  const app = new Application({ onError: () => {} })
    .use(async function capture(ctx: CallContext, next: Next) {
      if (ctx instanceof GrpcCallContext) seen.push(ctx);
      await next();
    })
    .use(when("KeyValue/Put", async function tag(ctx: CallContext, next: Next) {
      if (ctx instanceof GrpcCallContext) ctx.responseHeaders.set("x-served-by", "spec");
      await next();
      if (ctx instanceof GrpcCallContext) ctx.trailers.set("x-outcome", ctx.status);
    }))
    .use(when("KeyValue/Delete", rateLimit({ capacity: 1, refillPerSecond: 1 })))
    .handle(router([service]));
  return { app, seen, aborts, stream };
}

describe("GrpcHost", () => {
  let host: GrpcHost;
  let client: ReturnType<typeof bareClient>;
  let target: string;
  let fixture: ReturnType<typeof testApp>;
  const logger = new MemoryLogger();

  beforeEach(async () => {
    fixture = testApp();
    host = new GrpcHost({ app: fixture.app, proto: KEYVALUE_PROTO, limits: { maxMetadataEntries: 8, maxMetadataValueBytes: 256 }, logger });
    target = `127.0.0.1:${await host.listen("127.0.0.1:0")}`;
    client = bareClient(target);
  });
  afterEach(async () => {
    client.close();
    await host.shutdown({ graceMs: 0 });
  });

  describe("the call context", () => {
    it("ctx.service is the short name, with package, path, peer (no port) and address (port) beside it", async () => {
      const outcome = await unary(client, "Get", { key: "k" });
      expect(outcome.response).to.deep.equal({ key: "k", value: "value of k", found: true });
      const ctx = fixture.seen[0]!;
      expect(ctx).to.be.instanceOf(GrpcCallContext);
      expect([ctx.service, ctx.method, ctx.package, ctx.path, ctx.kind]).to.deep.equal(["KeyValue", "Get", "keyvalue.v1", "/keyvalue.v1.KeyValue/Get", "unary"]);
      expect(ctx.peer).to.equal("127.0.0.1");
      expect(ctx.address).to.match(/^127\.0\.0\.1:\d+$/);
      expect(ctx.applied).to.deep.equal(["capture"]); // when("KeyValue/Put"), when("KeyValue/Delete") matched on the short name
    });

    it("puts text metadata in ctx.metadata and -bin metadata, as bytes, in ctx.binaryMetadata only", async () => {
      await unary(client, "Get", { key: "k" }, bearer("t", { "x-request-id": "42", "trace-bin": Buffer.from([0, 1, 2, 255]) }));
      const ctx = fixture.seen[0]!;
      expect(ctx.metadata.get("authorization")).to.equal("Bearer t");
      expect(ctx.metadata.get("x-request-id")).to.equal("42");
      expect(ctx.metadata.has("trace-bin")).to.equal(false);
      expect(ctx.metadata.has("grpc-timeout")).to.equal(false);
      expect(ctx.binaryMetadata.get("trace-bin")).to.deep.equal(Buffer.from([0, 1, 2, 255]));
    });

    it("sends the response headers and trailers a middleware sets", async () => {
      const call = new Promise<{ headers: grpc.Metadata; trailers: grpc.Metadata }>((resolve) => {
        let headers: grpc.Metadata;
        const pending = client["Put"]!({ key: "a", value: "1" }, new grpc.Metadata(), () => {}) as grpc.ClientUnaryCall;
        pending.on("metadata", (received: grpc.Metadata) => (headers = received));
        pending.on("status", (status: grpc.StatusObject) => resolve({ headers, trailers: status.metadata }));
      });
      const { headers, trailers } = await call;
      expect(headers.get("x-served-by")).to.deep.equal(["spec"]);
      expect(trailers.get("x-outcome")).to.deep.equal(["OK"]);
    });

    it("refuses metadata over the limits with RESOURCE_EXHAUSTED before any middleware", async () => {
      const outcome = await unary(client, "Get", { key: "k" }, bearer(undefined, { "x-big": "x".repeat(300) }));
      expect(outcome.error?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      expect(outcome.error?.details).to.match(/over 256 bytes/);
      expect(fixture.seen).to.have.length(0);
    });
  });

  describe("statuses and details", () => {
    it("answers a status set by the handler (NOT_FOUND) without a response message", async () => {
      const outcome = await unary(client, "Get", { key: "missing" });
      expect(outcome.error?.code).to.equal(grpc.status.NOT_FOUND);
      expect(outcome.response).to.equal(undefined);
    });

    it("answers a server fault INTERNAL with no detail on the wire", async () => {
      const outcome = await unary(client, "Get", { key: "boom" });
      expect(outcome.error?.code).to.equal(grpc.status.INTERNAL);
      expect(outcome.error?.details).to.equal("INTERNAL");
      expect(JSON.stringify(outcome.error?.metadata.toJSON())).not.to.include("secret");
    });

    it("INVALID_ARGUMENT with details.field carries google.rpc.BadRequest naming the field", async () => {
      const outcome = await unary(client, "Put", { key: "k", value: "x".repeat(1024 * 1024 + 1) });
      expect(outcome.error?.code).to.equal(grpc.status.INVALID_ARGUMENT);
      const rich = richStatus(outcome.error!);
      expect(rich?.code).to.equal(grpc.status.INVALID_ARGUMENT);
      expect(rich?.details["google.rpc.BadRequest"]).to.deep.equal({ field_violations: [{ field: "value", description: "request.value is longer than 1048576 bytes", reason: "" }] });
    });

    it("RESOURCE_EXHAUSTED from rateLimit carries google.rpc.RetryInfo and grpc-retry-pushback-ms", async () => {
      expect((await unary(client, "Delete", { key: "k" })).error).to.equal(undefined);
      const { error } = await unary(client, "Delete", { key: "k" });
      expect(error?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      const pushback = Number(error?.metadata.get("grpc-retry-pushback-ms")[0]);
      expect(pushback).to.be.within(1, 1000);
      const retry = richStatus(error!)?.details["google.rpc.RetryInfo"] as { retry_delay: { seconds: number; nanos: number } };
      expect(retry.retry_delay.seconds * 1000 + retry.retry_delay.nanos / 1e6).to.equal(pushback);
    });
  });

  describe("ctx.signal", () => {
    it("aborts with DEADLINE_EXCEEDED when the call's grpc-timeout passes", async () => {
      const outcome = await unary(client, "Get", { key: "slow" }, new grpc.Metadata(), { deadline: Date.now() + 100 });
      expect(outcome.error?.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
      await tick(20);
      expect((fixture.aborts[0] as StatusError).code).to.equal(Status.DEADLINE_EXCEEDED);
    });

    it("aborts with CANCELLED when the client cancels", async () => {
      const call = client["Get"]!({ key: "slow" }, new grpc.Metadata(), () => {}) as grpc.ClientUnaryCall;
      await tick(50);
      call.cancel();
      await tick(50);
      expect((fixture.aborts[0] as StatusError).code).to.equal(Status.CANCELLED);
      expect(host.openCalls).to.equal(0);
    });
  });

  describe("streaming methods (a handler's AsyncIterable, an AsyncIterable request)", () => {
    it("server streaming: writes the handler's messages in order, then OK", async () => {
      const { messages, error } = await readAll(client["Scan"]!({ prefix: "k", limit: 3 }, new grpc.Metadata()) as grpc.ClientReadableStream<unknown>);
      expect(error).to.equal(undefined);
      expect(messages.map((m) => (m as { key: string }).key)).to.deep.equal(["k0", "k1", "k2"]);
      expect(fixture.seen[0]?.kind).to.equal("server_stream");
    });

    it("client streaming: the request is an AsyncIterable of the client's messages", async () => {
      const answer = new Promise<unknown>((resolve, reject) => {
        const call = client["PutMany"]!(new grpc.Metadata(), (error: Error | null, response: unknown) => (error ? reject(error) : resolve(response))) as grpc.ClientWritableStream<unknown>;
        for (const key of ["a", "b", "c"]) call.write({ key, value: "v" });
        call.end();
      });
      expect(await answer).to.deep.equal({ written: 3 });
    });

    it("client streaming: a client cancel aborts ctx.signal of the handler at work", async () => {
      const call = client["PutMany"]!(new grpc.Metadata(), () => {}) as grpc.ClientWritableStream<unknown>;
      call.write({ key: "slow", value: "v" });
      await tick(50);
      call.cancel();
      await tick(50);
      expect((fixture.aborts[0] as StatusError).code).to.equal(Status.CANCELLED);
      expect(host.openCalls).to.equal(0);
    });

    it("bidi: answers each operation as it arrives, before the client half-closes", async () => {
      const call = client["Batch"]!(new grpc.Metadata()) as grpc.ClientDuplexStream<unknown, { code: number; get?: { key: string } }>;
      const first = new Promise((resolve) => call.once("data", resolve));
      call.write({ get: { key: "one" } });
      expect(await first).to.deep.include({ code: 0 });
      const rest = readAll(call);
      call.write({});
      call.end();
      const { messages, error } = await rest;
      expect(error).to.equal(undefined);
      expect(messages.map((m) => (m as { code: number }).code)).to.deep.equal([3]);
    });

    it("ctx.sendHeaders(): a server stream's response headers go out before it has a message", async () => {
      const call = client["Watch"]!({ prefix: "" }, new grpc.Metadata()) as grpc.ClientReadableStream<unknown>;
      call.on("error", () => undefined);
      const headers = await new Promise<grpc.Metadata>((resolve) => call.once("metadata", resolve));
      expect(headers).to.be.instanceOf(grpc.Metadata);
      call.cancel();
    });

    it("a cancel mid-stream stops the producer: no longer pulled, its finally runs", async () => {
      const call = client["Scan"]!({ prefix: "k", limit: 0 }, new grpc.Metadata()) as grpc.ClientReadableStream<unknown>;
      call.on("error", () => {});
      await new Promise((resolve) => call.once("data", resolve));
      call.cancel();
      await tick(100);
      const produced = fixture.stream.produced;
      await tick(100);
      expect(fixture.stream.finished).to.equal(true);
      expect(fixture.stream.produced).to.equal(produced);
      expect(host.openCalls).to.equal(0);
    });

    it("back-pressure: a reader that stops reading stops the producer within a bounded number of messages", async () => {
      const call = client["Scan"]!({ prefix: "k", limit: 0 }, new grpc.Metadata()) as grpc.ClientReadableStream<unknown>;
      call.on("error", () => {});
      await new Promise((resolve) => call.once("data", resolve));
      call.pause();
      await tick(300);
      const produced = fixture.stream.produced;
      await tick(200);
      expect(fixture.stream.produced, "the producer waits for the reader").to.equal(produced);
      expect(produced, "HTTP/2 windows plus grpc-js's buffers, in 1 KiB messages").to.be.below(2000);
      call.cancel();
    });
  });

  describe("operators", () => {
    it("serves grpc.health.v1 (SERVING) and reflection without the application", async () => {
      expect(await healthCheck(target)).to.equal("SERVING");
      expect(await healthCheck(target, "keyvalue.v1.KeyValue")).to.equal("SERVING");
      expect(await reflectedServices(target)).to.include.members(["keyvalue.v1.KeyValue", "grpc.health.v1.Health"]);
      expect(fixture.seen).to.have.length(0);
    });

    it("shutdown(): health NOT_SERVING at once, a unary call in flight finishes, an open stream ends UNAVAILABLE after the grace period", async () => {
      const health = bareClient(target, "grpc.health.v1.Health", HEALTH_PROTO);
      const watch = health["Watch"]!({ service: "" }) as grpc.ClientReadableStream<{ status: string }>;
      const statuses: string[] = [];
      watch.on("data", (answer: { status: string }) => statuses.push(answer.status));
      watch.on("error", () => {});
      const stream = readAll(client["Watch"]!({ prefix: "" }, new grpc.Metadata()) as grpc.ClientReadableStream<unknown>);
      const slowUnary = unary(client, "Get", { key: "k" });
      await tick(100);
      const stopped = host.shutdown({ graceMs: 200 });
      await tick(50);
      expect(statuses).to.deep.equal(["SERVING", "NOT_SERVING"]);
      expect((await slowUnary).response).to.deep.include({ found: true });
      const ended = await stream;
      expect(ended.error?.code).to.equal(grpc.status.UNAVAILABLE);
      expect((fixture.aborts[0] as StatusError).code).to.equal(Status.UNAVAILABLE);
      await stopped;
      health.close();
    });
  });
});
