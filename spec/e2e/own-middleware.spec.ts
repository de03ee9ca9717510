import { expect } from "chai";
import Koa from "koa";
import { requireHeader, tenantOnly } from "../../examples/own-middleware.js";
import { Application, auth, CallContext, Status } from "../../index.js";
import { serve } from "../support/koa-server.js";

// examples/own-middleware.ts, the code of README.md "Write your own middleware", works as told.

describe("examples/own-middleware", () => {
  it("tenantOnly(): after auth, admits its tenant and fails the others with PERMISSION_DENIED", async () => {
    const app = new Application()
      .use(auth({ tokens: new Map([["a", "acme/ci"], ["b", "other/ci"]]) }))
      .use(tenantOnly("acme"))
      .handle((ctx) => {
        ctx.response = ctx.state.tenant;
      });
    const outcome = async (token: string): Promise<unknown[]> => {
      const ctx = new CallContext({ service: "S", method: "M", request: {}, metadata: { authorization: `Bearer ${token}` }, peer: "c1" });
      await app.run(ctx);
      return [ctx.status, ctx.response, ctx.interceptorFailed];
    };
    expect(await outcome("a")).to.deep.equal([Status.OK, "acme", undefined]);
    expect(await outcome("b")).to.deep.equal([Status.PERMISSION_DENIED, undefined, "tenant_only"]);
  });

  it("requireHeader(): INVALID_ARGUMENT in the RPC host, 400 in Koa", async () => {
    const rpc = new Application().use(requireHeader("x-request-id"));
    const ctx = new CallContext({ service: "S", method: "M", request: {}, peer: "c1" });
    await rpc.run(ctx);
    expect([ctx.status, ctx.interceptorFailed]).to.deep.equal([Status.INVALID_ARGUMENT, "require_header"]);

    const koa = new Koa().use(requireHeader("x-request-id")).use(async (c) => {
      c.body = "ok";
    });
    const served = await serve(koa);
    try {
      expect((await fetch(served.url)).status).to.equal(400);
      const ok = await fetch(served.url, { headers: { "x-request-id": "r1" } });
      expect([ok.status, ok.headers.get("vary")]).to.deep.equal([200, "x-request-id"]);
    } finally {
      await served.close();
    }
  });
});
