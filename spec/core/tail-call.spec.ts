import { expect } from "chai";
import { Application, runFrame } from "../../lib/core/application.js";
import { CallContext, HANDLER } from "../../lib/core/context.js";
import { CallFrame } from "../../lib/core/frame.js";
import type { Next } from "../../lib/core/middleware.js";
import { Status } from "../../lib/core/status.js";
import { StatusError } from "../../lib/core/status-error.js";
import { tailCall } from "../../lib/core/tail-call.js";
import { auth } from "../../middleware/auth.js";
import { rateLimit } from "../../middleware/rate-limit.js";

// The shortcut is invisible in outcomes (a tail-called layer behaves as an awaited one), so
// these specs look at what it saves: run()'s promise and the frame's record of tail layers.

const TOKEN = "s3cret";
const newCall = (): CallContext =>
  new CallContext({ service: "KeyValue", method: "Get", request: { key: "k" }, peer: "c1", metadata: { authorization: `Bearer ${TOKEN}` } });
const later = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 2));

/** The bin/node chain's tail-calling middleware, as bin/node configures them. */
function hotPath(): Application {
  return new Application({ onError: () => undefined })
    .use(auth({ tokens: [TOKEN] }))
    .use(rateLimit({ capacity: 1_000_000, refillPerSecond: 1_000_000 }));
}

describe("tailCall(next)", () => {
  it("returns the very promise next() returned", () => {
    const downstream = Promise.resolve();
    expect(tailCall(() => downstream)).to.equal(downstream);
  });

  it("auth and rateLimit tail-call: over a synchronous handler, run() hands back one settled promise for every call", async () => {
    // Holds only when every layer leaves with its downstream, no await of its own: a middleware
    // rewritten as a plain async function, or a next() that wraps its layer's promise, makes a
    // new promise per call here.
    const app = hotPath().handle((ctx) => void (ctx.response = { ok: true }));
    const first = newCall();
    const second = newCall();
    const runs = [app.run(first), app.run(second)];
    expect(runs[0]).to.equal(runs[1]);
    await Promise.all(runs);
    expect([first.status, first.applied, second.response]).to.deep.equal([Status.OK, ["auth", "rate_limit"], { ok: true }]);
  });

  it("auth and rateLimit tail-call over a downstream still running: their layers leave with it, recorded as tails", async () => {
    let frame: CallFrame | undefined;
    let tailsWhileRunning: number[] | undefined;
    const app = new Application({ onError: () => undefined })
      .use(async function outer(_ctx: CallContext, next: Next) {
        await next();
      })
      .use(auth({ tokens: [TOKEN] }))
      .use(rateLimit({ capacity: 1_000_000, refillPerSecond: 1_000_000 }))
      .handle(async (ctx) => {
        await later();
        tailsWhileRunning = [...(frame?.tails ?? [])];
        ctx.response = { late: true };
      });
    const ctx = newCall();
    frame = new CallFrame(ctx);
    await runFrame(app, frame);
    // Levels counted from the first layer entered: outer 1, auth 2, rate_limit 3.
    expect(tailsWhileRunning, "auth and rate_limit left with the handler still running").to.deep.equal([3, 2]);
    expect([frame.tails, frame.open, ctx.status, ctx.response]).to.deep.equal([[], 0, Status.OK, { late: true }]);
  });

  it("a tail-called layer attributes a failure as an awaited one does", async () => {
    const app = hotPath().handle(async () => {
      await later();
      throw new StatusError(Status.NOT_FOUND, "gone");
    });
    const ctx = newCall();
    await app.run(ctx);
    expect([ctx.status, ctx.failure?.at, ctx.interceptorFailed]).to.deep.equal([Status.NOT_FOUND, HANDLER, undefined]);
  });
});
