import { expect } from "chai";
import Koa from "koa";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { Application } from "../../lib/core/application.js";
import { StatusError } from "../../lib/core/status-error.js";
import { Status } from "../../lib/core/status.js";
import { currentInbound } from "../../lib/observability/inbound-call.js";
import { propagate as carry } from "../../middleware/client/propagate.js";
import { propagate } from "../../middleware/propagate.js";
import { serve } from "../support/koa-server.js";

describe("propagate() (server)", () => {
  it("is the inbound call for the rest of the pipeline only, and changes nothing about the call", async () => {
    let inside: unknown;
    const app = new Application().use(propagate({ metadata: ["X-User-Id"] })).handle((ctx) => {
      inside = currentInbound()?.metadata;
      ctx.response = { ok: true };
    });
    const result = await createClient(new InProcessTransport(app)).call("S", "M", {});
    expect([result.status, result.response, result.interceptorsApplied, inside]).to.deep.equal([Status.OK, { ok: true }, ["propagate"], ["x-user-id"]]);
    expect(currentInbound()).to.equal(undefined);
  });

  describe("in Koa", () => {
    it("carries the named headers and the grpc-timeout budget, and cancels outbound calls when the client goes away", async () => {
      const seen: { userId: string | undefined; timeout: string | undefined; reason?: unknown }[] = [];
      const inner = new Application({ onError: () => {} }).handle(async (ctx) => {
        const entry: (typeof seen)[number] = { userId: ctx.metadata.get("x-user-id"), timeout: ctx.metadata.get("grpc-timeout") };
        seen.push(entry);
        if ((ctx.request as { wait?: boolean }).wait) {
          await new Promise<void>((_, reject) => ctx.signal?.addEventListener("abort", () => reject(StatusError.from((entry.reason = ctx.signal?.reason)))));
        }
      });
      const backend = createClient(new InProcessTransport(inner)).use(carry());
      const koa = new Koa();
      koa.use(propagate({ metadata: ["x-user-id"] }));
      koa.use(async (ctx) => {
        const result = await backend.call("KeyValue", "Get", { wait: ctx.path === "/wait" });
        ctx.body = { status: result.status };
      });
      const served = await serve(koa);
      try {
        const res = await fetch(`${served.url}/now`, { headers: { "x-user-id": "ada", "grpc-timeout": "5S", authorization: "Bearer t" } });
        expect(await res.json()).to.deep.equal({ status: "OK" });
        expect(seen[0]?.userId).to.equal("ada");
        expect(Number(seen[0]?.timeout?.slice(0, -1))).to.be.within(4000, 5000);

        const controller = new AbortController();
        const pending = fetch(`${served.url}/wait`, { signal: controller.signal }).catch(() => "aborted");
        for (let waited = 0; seen.length < 2 && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
        controller.abort();
        expect(await pending).to.equal("aborted");
        for (let waited = 0; seen[1]?.reason === undefined && waited < 2000; waited += 5) await new Promise((resolve) => setTimeout(resolve, 5));
        expect(StatusError.from(seen[1]?.reason).code).to.equal(Status.CANCELLED);
      } finally {
        await served.close();
      }
    });
  });
});
