import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import type { CallContext } from "../../lib/core/context.js";
import type { Next } from "../../lib/core/middleware.js";
import { router } from "../../lib/core/service.js";
import { Status } from "../../lib/core/status.js";
import type { StatusError } from "../../lib/core/status-error.js";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { keyValueService } from "../../lib/key-value/key-value.js";
import { MemoryStore } from "../../lib/key-value/memory-store.js";
import { auth } from "../../middleware/auth.js";
import { credentials } from "../../middleware/client/credentials.js";
import { deadline } from "../../middleware/client/deadline.js";
import { retry } from "../../middleware/client/retry.js";
import { logging } from "../../middleware/logging.js";
import { rateLimit, type RateLimitOptions } from "../../middleware/rate-limit.js";
import { captureLogger } from "../support/log-capture.js";

// The library's server middleware, unchanged, around each of the four kinds of call.

const TOKEN = "s3cret";

async function* each(items: readonly unknown[]): AsyncGenerator<unknown> {
  for (const item of items) yield item;
}

async function drain(stream: AsyncIterable<unknown>): Promise<unknown[]> {
  const messages: unknown[] = [];
  try {
    for await (const message of stream) messages.push(message);
  } catch {
    // the outcome is in .result
  }
  return messages;
}

function server(limits: RateLimitOptions = { capacity: 100, refillPerSecond: 0.001 }) {
  const log = captureLogger();
  const store = new MemoryStore();
  for (const key of ["a", "b", "c"]) store.set(key, key.toUpperCase());
  const app = new Application({ onError: () => undefined })
    .use(logging({ logger: log.logger }))
    .use(auth({ tokens: [TOKEN] }))
    .use(rateLimit(limits))
    .handle(router([keyValueService(store)]));
  return { app, log, store };
}

/** One call of each kind through `client`, with its final status and interceptor attribution. */
async function callEveryKind(client: ReturnType<typeof createClient>) {
  const unary = await client.call("KeyValue", "Get", { key: "a" });
  const scan = client.serverStream("KeyValue", "Scan", { prefix: "" });
  const scanned = await drain(scan);
  const putMany = await client.clientStream("KeyValue", "PutMany", each([{ key: "x", value: "1" }, { key: "y", value: "2" }]));
  const batch = client.bidi("KeyValue", "Batch", each([{ get: { key: "a" } }, { delete: { key: "x" } }]));
  const batched = await drain(batch);
  return { unary, scan: await scan.result, scanned, putMany, batch: await batch.result, batched };
}

describe("logging, auth and rateLimit, unchanged, around every kind of call", () => {
  it("admit and log each kind once, with its final status and message counts", async () => {
    const { app, log } = server();
    const client = createClient(new InProcessTransport(app, { peer: "c1" })).use(credentials({ token: TOKEN }));
    const outcome = await callEveryKind(client);
    expect([outcome.unary.status, outcome.scan.status, outcome.putMany.status, outcome.batch.status]).to.deep.equal([Status.OK, Status.OK, Status.OK, Status.OK]);
    expect(outcome.scanned).to.have.length(3);
    expect(outcome.batched).to.have.length(2);
    for (const result of [outcome.unary, outcome.scan, outcome.putMany, outcome.batch]) expect(result.interceptorsApplied).to.deep.equal(["logging", "auth", "rate_limit"]);
    const lines = log.records().map(({ method, status, received, sent }) => ({ method, status, received, sent }));
    expect(lines).to.deep.equal([
      { method: "Get", status: "OK", received: 1, sent: 1 },
      { method: "Scan", status: "OK", received: 1, sent: 3 },
      { method: "PutMany", status: "OK", received: 2, sent: 1 },
      { method: "Batch", status: "OK", received: 2, sent: 2 },
    ]);
    expect(log.lines.join("")).not.to.include(TOKEN);
  });

  it("auth refuses each kind without a token, once per call, before any stream opens", async () => {
    const { app, log } = server();
    const client = createClient(new InProcessTransport(app));
    let pulled = 0;
    const requests = (async function* () {
      pulled++;
      yield { key: "x", value: "1" };
    })();
    const putMany = await client.clientStream("KeyValue", "PutMany", requests);
    const outcome = await callEveryKind(client);
    for (const result of [putMany, outcome.unary, outcome.scan, outcome.putMany, outcome.batch]) {
      expect([result.status, result.interceptorFailed]).to.deep.equal([Status.UNAUTHENTICATED, "auth"]);
    }
    expect([outcome.scanned, outcome.batched, pulled]).to.deep.equal([[], [], 0]);
    expect(log.records().map((line) => [line["status"], line["failed"]])).to.deep.equal(Array(5).fill(["UNAUTHENTICATED", "auth"]));
  });

  it("rateLimit charges each call once when it opens, whatever it streams", async () => {
    const { app } = server({ capacity: 4, refillPerSecond: 0.001 });
    const client = createClient(new InProcessTransport(app, { peer: "c1" })).use(credentials({ token: TOKEN }));
    const first = await callEveryKind(client);
    expect(first.batch.status, "4 calls, 4 points, the Batch's 2 messages free").to.equal(Status.OK);
    const second = await callEveryKind(client);
    for (const result of [second.unary, second.scan, second.putMany, second.batch]) {
      expect([result.status, result.interceptorFailed]).to.deep.equal([Status.RESOURCE_EXHAUSTED, "rate_limit"]);
    }
  });

  it("rateLimit({ chargeRequestMessages: true }): a Batch of 50 operations costs 51; the budget running out ends the stream RESOURCE_EXHAUSTED", async () => {
    const operations = Array.from({ length: 50 }, (_, i) => ({ put: { key: `k${i}`, value: "v" } }));
    const exact = server({ capacity: 51, refillPerSecond: 0.001, chargeRequestMessages: true });
    const paid = createClient(new InProcessTransport(exact.app, { peer: "c1" })).use(credentials({ token: TOKEN }));
    const batch = paid.bidi("KeyValue", "Batch", each(operations));
    expect(await drain(batch)).to.have.length(50);
    expect((await batch.result).status).to.equal(Status.OK);
    expect((await paid.call("KeyValue", "Get", { key: "k0" })).status, "the 52nd point").to.equal(Status.RESOURCE_EXHAUSTED);

    const short = server({ capacity: 30, refillPerSecond: 0.001, chargeRequestMessages: true });
    const client = createClient(new InProcessTransport(short.app, { peer: "c1" })).use(credentials({ token: TOKEN }));
    const cut = client.bidi("KeyValue", "Batch", each(operations));
    const results = await drain(cut);
    const end = await cut.result;
    expect(results, "one point for the call, 29 for messages").to.have.length(29);
    expect([end.status, end.interceptorFailed]).to.deep.equal([Status.RESOURCE_EXHAUSTED, "rate_limit"]);
    expect(short.store.get("k29"), "the operation refused was not applied").to.equal(undefined);
    expect(short.log.records()[0]).to.deep.include({ method: "Batch", status: "RESOURCE_EXHAUSTED", failed: "rate_limit", received: 30, sent: 29 });
  });
});

describe("client middleware and streams", () => {
  it("deadline() covers a stream: the budget goes out as grpc-timeout and the stream ends DEADLINE_EXCEEDED", async () => {
    const seen: (string | undefined)[] = [];
    const app = new Application()
      .use(async function spy(ctx: CallContext, next: Next) {
        seen.push(ctx.metadata.get("grpc-timeout"));
        await next();
      })
      .handle(router([keyValueService()]));
    const client = createClient(new InProcessTransport(app)).use(deadline({ timeoutMs: 40 }));
    const watch = client.serverStream("KeyValue", "Watch", { prefix: "" });
    await drain(watch);
    expect((await watch.result).status).to.equal(Status.DEADLINE_EXCEEDED);
    expect(seen).to.have.length(1);
    expect(Number.parseInt(seen[0] ?? "", 10)).to.be.within(1, 40);
  });

  it("retry() sends a stream once, whatever its status", async () => {
    let calls = 0;
    const app = new Application()
      .use(async function unavailable(ctx: CallContext) {
        calls++;
        ctx.throw(Status.UNAVAILABLE, "down");
      })
      .handle(router([keyValueService()]));
    const client = createClient(new InProcessTransport(app)).use(retry({ maxAttempts: 5, baseDelayMs: 0, idempotent: (ctx: ClientCallContext) => ctx.path.startsWith("KeyValue/") }));
    const scan = client.serverStream("KeyValue", "Scan", {});
    await drain(scan);
    expect([(await scan.result).status, calls]).to.deep.equal([Status.UNAVAILABLE, 1]);
    calls = 0;
    expect((await client.call("KeyValue", "Get", { key: "k" })).status).to.equal(Status.UNAVAILABLE);
    expect(calls, "unary calls are still retried").to.equal(5);
  });

  it("a transport without stream() answers UNIMPLEMENTED", async () => {
    const client = createClient({ unary: () => Promise.reject(new Error("unused")), close: () => Promise.resolve() });
    const scan = client.serverStream("KeyValue", "Scan", {});
    expect(((await drain(scan)) as unknown[]).length).to.equal(0);
    expect(((await scan.result).error as StatusError).code).to.equal(Status.UNIMPLEMENTED);
  });
});
