import { expect } from "chai";
import Koa from "koa";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { type RequestIdState, requestId } from "../../middleware/request-id.js";
import { serve } from "../support/koa-server.js";

async function run(metadata: Record<string, string>): Promise<CallContext<Partial<RequestIdState>>> {
  const ctx = new CallContext<Partial<RequestIdState>>({ service: "S", method: "M", request: {}, metadata, peer: "c1" });
  await new Application().use(requestId({ generate: () => "generated" })).handle(() => {}).run(ctx as CallContext);
  return ctx;
}

describe("requestId()", () => {
  it("keeps the caller's x-request-id, in ctx.state and the metadata", async () => {
    const ctx = await run({ "x-request-id": "abc-1" });
    expect([ctx.state.requestId, ctx.metadata.get("x-request-id")]).to.deep.equal(["abc-1", "abc-1"]);
  });

  it("assigns one when it is absent, or unusable (too long, not printable ASCII), and sets it in the metadata for propagate()", async () => {
    for (const metadata of [{}, { "x-request-id": "x".repeat(201) }, { "x-request-id": "a b" }]) {
      const ctx = await run(metadata);
      expect([ctx.state.requestId, ctx.metadata.get("x-request-id")]).to.deep.equal(["generated", "generated"]);
    }
  });

  it("makes a UUID by default", async () => {
    const ctx = new CallContext<Partial<RequestIdState>>({ service: "S", method: "M", request: {}, peer: "c1" });
    await new Application().use(requestId()).handle(() => {}).run(ctx as CallContext);
    expect(ctx.state.requestId).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it("returns it in Koa as the X-Request-Id response header", async () => {
    const koa = new Koa();
    koa.use(requestId({ generate: () => "fresh" }));
    koa.use((ctx) => void (ctx.body = ctx.get("x-request-id")));
    const served = await serve(koa);
    try {
      const assigned = await fetch(served.url);
      expect([assigned.headers.get("x-request-id"), await assigned.text()]).to.deep.equal(["fresh", "fresh"]);
      const kept = await fetch(served.url, { headers: { "x-request-id": "mine" } });
      expect(kept.headers.get("x-request-id")).to.equal("mine");
    } finally {
      await served.close();
    }
  });

  it("requestId(options) refuses a header that is not a header name when called", () => {
    expect(() => requestId({ header: "x id" })).to.throw(TypeError, /header/);
  });
});
