import { expect } from "chai";
import { RateLimiterRes } from "rate-limiter-flexible";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { type ConsumingLimiter, rateLimit, type RateLimitOptions, type RateLimitState } from "../../middleware/rate-limit.js";

/** A limiter that records the keys it is asked about and answers as told. */
class ScriptedLimiter implements ConsumingLimiter {
  readonly keys: string[] = [];
  constructor(private readonly answer: (key: string) => Promise<RateLimiterRes>) {}
  consume(key: string): Promise<RateLimiterRes> {
    this.keys.push(key);
    return this.answer(key);
  }
}

const allow = (): Promise<RateLimiterRes> => Promise.resolve(new RateLimiterRes(5, 0, 1, false));

function application(options: RateLimitOptions): Application {
  return new Application({ onError: () => {} }).use(rateLimit(options)).handle((ctx) => void (ctx.response = { handled: true }));
}

async function run(app: Application, peer = "c1", metadata: unknown = {}): Promise<CallContext<Partial<RateLimitState>>> {
  const ctx = new CallContext<Partial<RateLimitState>>({ service: "KeyValue", method: "Get", request: {}, metadata, peer });
  await app.run(ctx);
  return ctx;
}

describe("rateLimit()", () => {
  it("lets calls through while the default token bucket has tokens, then ends them with RESOURCE_EXHAUSTED at rate_limit", async () => {
    const app = application({ capacity: 3, refillPerSecond: 0.001 });
    for (let i = 0; i < 3; i++) {
      const ctx = await run(app);
      expect(ctx.status, `call ${i + 1}`).to.equal(Status.OK);
      expect(ctx.applied).to.deep.equal(["rate_limit"]);
      expect(ctx.state.rateLimit?.remainingPoints).to.equal(2 - i);
    }
    const over = await run(app);
    expect(over.status).to.equal(Status.RESOURCE_EXHAUSTED);
    expect(over.interceptorFailed).to.equal("rate_limit");
    expect(over.response).to.equal(undefined);
    expect(over.state.rateLimit).to.be.instanceOf(RateLimiterRes);
    expect(over.failure?.error.details).to.deep.include({ client: "c1" });
    expect(over.failure?.error.details?.["retryAfterMs"]).to.be.a("number").greaterThan(0);
  });

  it("counts each client (the peer) separately", async () => {
    const app = application({ capacity: 1, refillPerSecond: 0.001 });
    expect((await run(app, "c1")).status).to.equal(Status.OK);
    expect((await run(app, "c1")).status).to.equal(Status.RESOURCE_EXHAUSTED);
    expect((await run(app, "c2")).status).to.equal(Status.OK);
  });

  it("takes any rate-limiter-flexible style limiter: a resolved consume lets the call through", async () => {
    const limiter = new ScriptedLimiter(allow);
    const ctx = await run(application({ limiter }), "c9");
    expect(ctx.status).to.equal(Status.OK);
    expect(limiter.keys).to.deep.equal(["c9"]);
    expect(ctx.state.rateLimit?.remainingPoints).to.equal(5);
  });

  it("reads a limiter's rejection with a RateLimiterRes as over the limit", async () => {
    const limiter = new ScriptedLimiter(() => Promise.reject(new RateLimiterRes(0, 1234, 10, false)));
    const ctx = await run(application({ limiter }));
    expect(ctx.status).to.equal(Status.RESOURCE_EXHAUSTED);
    expect(ctx.interceptorFailed).to.equal("rate_limit");
    expect(ctx.failure?.error.details?.["retryAfterMs"]).to.equal(1234);
  });

  it("ends the call with UNAVAILABLE when the limiter's store fails, keeping the error as cause", async () => {
    const storeError = new Error("connect ECONNREFUSED 127.0.0.1:6379");
    const limiter = new ScriptedLimiter(() => Promise.reject(storeError));
    const ctx = await run(application({ limiter }));
    expect(ctx.status).to.equal(Status.UNAVAILABLE);
    expect(ctx.interceptorFailed).to.equal("rate_limit");
    expect(ctx.failure?.error.cause).to.equal(storeError);
    expect(ctx.response).to.equal(undefined);
  });

  it("ignores x-forwarded-for unless trustProxy is on: a client cannot dodge its limit by inventing addresses", async () => {
    const limiter = new ScriptedLimiter(allow);
    const app = application({ limiter });
    await run(app, "c1", { "x-forwarded-for": "10.0.0.1" });
    await run(app, "c1", { "X-Forwarded-For": "10.0.0.2" });
    expect(limiter.keys).to.deep.equal(["c1", "c1"]);
  });

  it("with trustProxy on, counts the first x-forwarded-for address (any key case), falling back to the peer", async () => {
    const limiter = new ScriptedLimiter(allow);
    const app = application({ limiter, trustProxy: true });
    await run(app, "c1", { "x-forwarded-for": "10.0.0.1" });
    await run(app, "c1", { "X-Forwarded-For": " 10.0.0.2 , 172.16.0.1" });
    await run(app, "c1", {});
    await run(app, "c1", { "x-forwarded-for": " " });
    expect(limiter.keys).to.deep.equal(["10.0.0.1", "10.0.0.2", "c1", "c1"]);
  });

  it("uses a key function when given, over trustProxy", async () => {
    const limiter = new ScriptedLimiter(allow);
    const app = application({ limiter, trustProxy: true, key: (ctx) => (ctx instanceof CallContext ? `${ctx.peer}:${ctx.service}` : "koa") });
    await run(app, "c1", { "x-forwarded-for": "10.0.0.1" });
    expect(limiter.keys).to.deep.equal(["c1:KeyValue"]);
  });

  it("rejects contradictory or broken options when the factory is called", () => {
    const limiter = new ScriptedLimiter(allow);
    expect(() => rateLimit({ limiter, capacity: 5 })).to.throw(TypeError, /either limiter or capacity/);
    expect(() => rateLimit({ limiter: {} as ConsumingLimiter })).to.throw(TypeError, /consume/);
    expect(() => rateLimit({ key: "peer" as unknown as () => string })).to.throw(TypeError, /key must be a function/);
    expect(() => rateLimit({ capacity: 0 })).to.throw(RangeError, /capacity/);
  });

  it("returns a middleware named rate_limit (its wire name)", () => {
    expect(rateLimit().name).to.equal("rate_limit");
  });
});
