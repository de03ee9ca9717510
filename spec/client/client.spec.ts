import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import type { CallContext } from "../../lib/core/context.js";
import { createNodeApplication } from "../../lib/app/node-app.js";
import type { ClientCallContext } from "../../lib/client/call-context.js";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { resending } from "../../lib/client/middleware.js";
import type { Next } from "../../lib/core/middleware.js";
import { cache, type CacheState } from "../../middleware/client/cache.js";
import { credentials } from "../../middleware/client/credentials.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { keyValueServer, MemoryLogger } from "../support/servers.js";

describe("createClient(transport)", () => {
  it("resolves with { status, response } whatever the status", async () => {
    const client = createClient(new InProcessTransport(keyValueServer().app));
    const put = await client.call("KeyValue", "Put", { key: "k1", value: "v1" });
    expect(put).to.include({ status: Status.OK, error: undefined });
    expect(put.response).to.deep.equal({ written: true });

    const missing = await client.call("KeyValue", "Get", { key: "nope" });
    expect(missing.status).to.equal(Status.NOT_FOUND);
    expect(missing.response).to.deep.equal({ key: "nope", found: false });
    expect(missing.error).to.be.instanceOf(StatusError).with.property("code", Status.NOT_FOUND);
  });

  it("rejects with the StatusError under throwOnError, for the client or for one call", async () => {
    const { app } = keyValueServer();
    const throwing = createClient(new InProcessTransport(app), { throwOnError: true });
    const error = await throwing.call("KeyValue", "Get", { key: "nope" }).then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(StatusError).with.property("code", Status.NOT_FOUND);
    expect((error as StatusError).details).to.deep.equal({ response: { key: "nope", found: false } });
    expect((await throwing.call("KeyValue", "Get", { key: "nope" }, { throwOnError: false })).status).to.equal(Status.NOT_FOUND);

    const lenient = createClient(new InProcessTransport(app));
    const rejected = await lenient.call("Nope", "Nope", {}, { throwOnError: true }).then(() => undefined, (e: unknown) => e);
    expect(rejected).to.be.instanceOf(StatusError).with.property("code", Status.UNIMPLEMENTED);
  });

  it("runs middleware in use() order, the first closest to the application", async () => {
    const order: string[] = [];
    const mark = (name: string) =>
      Object.defineProperty(async (_ctx: ClientCallContext, next: Next) => {
        order.push(`${name} in`);
        await next();
        order.push(`${name} out`);
      }, "name", { value: name });
    const client = createClient(new InProcessTransport(keyValueServer().app)).use(mark("a")).use(mark("b"));
    expect(client.middleware).to.deep.equal(["a", "b"]);
    await client.call("KeyValue", "Get", { key: "k" });
    expect(order).to.deep.equal(["a in", "b in", "b out", "a out"]);
  });

  it("makes a middleware's throw the outcome the layers outside see, and never rejects next()", async () => {
    let seenOutside: string | undefined;
    const client = createClient(new InProcessTransport(keyValueServer().app))
      .use(async function outer(ctx, next) {
        await next();
        seenOutside = ctx.status;
      })
      .use(async function refuse(ctx) {
        ctx.throw(Status.PERMISSION_DENIED, "not today");
      });
    const result = await client.call("KeyValue", "Get", { key: "k" });
    expect(seenOutside).to.equal(Status.PERMISSION_DENIED);
    expect(result.status).to.equal(Status.PERMISSION_DENIED);
    expect(result.error?.message).to.equal("not today");
  });

  it("refuses a second next() from an ordinary middleware (koa-compose), ending the call INTERNAL", async () => {
    const { app, seen } = keyValueServer();
    const client = createClient(new InProcessTransport(app)).use(async function twice(_ctx, next) {
      await next();
      await next();
    });
    const result = await client.call("KeyValue", "Get", { key: "k" });
    expect(result.status).to.equal(Status.INTERNAL);
    expect(result.error?.message).to.equal("next() called multiple times");
    expect(seen).to.have.length(1);
  });

  it("lets a resending() middleware send again, each time through a fresh run with a clean outcome", async () => {
    const { app, seen } = keyValueServer();
    const before: string[] = [];
    const client = createClient(new InProcessTransport(app))
      .use(resending(async function twice(_ctx: ClientCallContext, next: Next) {
        await next();
        await next();
      }))
      .use(async function inner(ctx, next) {
        before.push(ctx.status);
        await next();
      });
    expect((await client.call("KeyValue", "Get", { key: "k" })).status).to.equal(Status.NOT_FOUND);
    expect(seen).to.have.length(2);
    expect(before).to.deep.equal([Status.UNKNOWN, Status.UNKNOWN]);
  });

  it("refuses overlapping next() calls even from a resending() middleware", async () => {
    const client = createClient(new InProcessTransport(keyValueServer().app)).use(resending(async function hedge(_ctx: ClientCallContext, next: Next) {
      await Promise.all([next(), next()]);
    }));
    const result = await client.call("KeyValue", "Get", { key: "k" });
    expect(result.status).to.equal(Status.INTERNAL);
    expect(result.error?.message).to.match(/before the previous attempt ended/);
  });

  it("refuses bad arguments at once", async () => {
    const client = createClient(new InProcessTransport(keyValueServer().app));
    expect(() => client.use((async () => {}) as never)).to.throw(TypeError, /needs a name/);
    for (const [service, method, options] of [["", "Get", {}], ["KeyValue", "", {}], ["KeyValue", "Get", { timeoutMs: 0 }], ["KeyValue", "Get", { timeoutMs: Number.NaN }]] as const) {
      const error = await client.call(service, method, {}, options).then(() => undefined, (e: unknown) => e);
      expect(error, `${service}/${method}`).to.be.instanceOf(TypeError);
    }
    expect(() => createClient({} as never)).to.throw(TypeError);
  });

  it("sends call metadata without changing the caller's object", async () => {
    const { app, seen } = keyValueServer();
    const metadata = { "X-Request-Id": "42" };
    const client = createClient(new InProcessTransport(app)).use(credentials({ token: "t0k" }));
    await client.call("KeyValue", "Get", { key: "k" }, { metadata });
    expect(seen[0]?.metadata).to.deep.equal({ "x-request-id": "42", authorization: "Bearer t0k" });
    expect(metadata).to.deep.equal({ "X-Request-Id": "42" });
  });

  it("ends a call whose signal has aborted CANCELLED, without sending it", async () => {
    const { app, seen } = keyValueServer();
    const client = createClient(new InProcessTransport(app));
    const result = await client.call("KeyValue", "Get", { key: "k" }, { signal: AbortSignal.abort() });
    expect(result.status).to.equal(Status.CANCELLED);
    expect(seen).to.have.length(0);
  });

  it("widens the state type by what a middleware adds", async () => {
    const client = createClient(new InProcessTransport(keyValueServer().app))
      .use(async function reader(ctx: ClientCallContext<Partial<CacheState>>, next: Next) {
        await next();
        expect(ctx.state.cacheHit).to.equal(false);
      })
      .use(cache({ ttlMs: 1000 }));
    expect((await client.call("KeyValue", "Get", { key: "k" })).status).to.equal(Status.NOT_FOUND);
  });
});

describe("new InProcessTransport(app)", () => {
  // No refill: the bucket's count does not depend on how fast the spec runs.
  const app = () => createNodeApplication({ config: { authTokens: ["valid_token"], rateLimitCapacity: 10, rateLimitRefillPerSecond: 0, trustProxy: false }, logger: new MemoryLogger() });

  it("answers as bin/node would: interceptors applied, or the one that stopped the call", async () => {
    const server = app();
    const anonymous = await createClient(new InProcessTransport(server, { peer: "c1" })).call("KeyValue", "Put", { key: "a", value: "1" });
    expect(anonymous).to.include({ status: Status.UNAUTHENTICATED, interceptorFailed: "auth", interceptorsApplied: undefined, response: undefined });

    const client = createClient(new InProcessTransport(server, { peer: "c1" })).use(credentials({ token: "valid_token" }));
    const put = await client.call("KeyValue", "Put", { key: "a", value: "1" });
    expect(put).to.deep.include({ status: Status.OK, interceptorsApplied: ["logging", "auth", "rate_limit"], interceptorFailed: undefined, response: { written: true } });
  });

  it("counts the rate limit against its peer", async () => {
    const client = createClient(new InProcessTransport(app(), { peer: "greedy" })).use(credentials({ token: "valid_token" }));
    const statuses = await Promise.all(Array.from({ length: 11 }, () => client.call("KeyValue", "Get", { key: "k" }).then((r) => r.status)));
    expect(statuses.filter((s) => s === Status.RESOURCE_EXHAUSTED)).to.have.length(1);
  });

  it("cancels the server context when the call's signal aborts", async () => {
    let serverSignal: AbortSignal | undefined;
    const controller = new AbortController();
    const server = new Application({ onError: () => {} }).handle(async (ctx: CallContext) => {
      serverSignal = ctx.signal;
      controller.abort();
      await new Promise((resolve) => setTimeout(resolve, 1));
    });
    const result = await createClient(new InProcessTransport(server)).call("S", "M", {}, { signal: controller.signal });
    expect([result.status, serverSignal?.aborted, (serverSignal?.reason as StatusError | undefined)?.code]).to.deep.equal([Status.CANCELLED, true, Status.CANCELLED]);
  });

  it("refuses calls once closed", async () => {
    const client = createClient(new InProcessTransport(app()));
    await client.close();
    expect((await client.call("KeyValue", "Get", { key: "k" })).status).to.equal(Status.UNAVAILABLE);
  });
});
