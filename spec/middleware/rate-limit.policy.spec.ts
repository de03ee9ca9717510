import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { principalOfToken } from "../../lib/auth/principal.js";
import { TokenBucket } from "../../lib/limiters/token-bucket.js";
import { RedisTokenBucket } from "../../lib/limiters/redis-token-bucket.js";
import { closeRedisClient, createRedisClient, type RedisClient, whenConnected } from "../../lib/redis/redis-client.js";
import { type RateLimitOptions, rateLimit } from "../../middleware/rate-limit.js";
import { keyByMetadata, keyByMethod, keyByPrincipal } from "../../middleware/rate-limit-keys.js";
import { RedisCluster, RedisServer, requireRedis } from "../support/redis-servers.js";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { router } from "../../lib/core/service.js";
import { keyValueService } from "../../lib/key-value/key-value.js";
import { auth } from "../../middleware/auth.js";
import { credentials } from "../../middleware/client/credentials.js";

/** Put costs 4, anything else 1. */
const putCosts4 = (ctx: { readonly method?: string } | object): number => ((ctx as CallContext).method === "Put" ? 4 : 1);

function application(options: RateLimitOptions): Application {
  return new Application({ onError: () => {} }).use(rateLimit(options)).handle(() => {});
}

async function run(app: Application, init: { method?: string; peer?: string; subject?: string; metadata?: Record<string, string> } = {}): Promise<CallContext> {
  const state = init.subject === undefined ? {} : { principal: principalOfToken(init.subject) };
  const ctx = new CallContext({ service: "KeyValue", method: init.method ?? "Get", request: {}, metadata: init.metadata ?? {}, peer: init.peer ?? "c1", state });
  await app.run(ctx);
  return ctx;
}

const counts = (ctxs: readonly CallContext[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const ctx of ctxs) out[ctx.status] = (out[ctx.status] ?? 0) + 1;
  return out;
};

describe("rateLimit({ cost, key, limits })", () => {
  it("charges cost(ctx) points, and the refusal's retryAfterMs is the wait until enough are back", async () => {
    let now = 0;
    const limiter = new TokenBucket({ capacity: 10, refillPerSecond: 2, now: () => now });
    const app = application({ limiter, cost: putCosts4 });
    expect((await run(app, { method: "Put" })).status).to.equal(Status.OK);
    expect((await run(app, { method: "Put" })).status).to.equal(Status.OK);
    const refused = await run(app, { method: "Put" });
    expect(refused.status).to.equal(Status.RESOURCE_EXHAUSTED);
    // 2 tokens left, 4 needed, 2 per second: 1000 ms.
    expect(refused.failure?.error.details).to.deep.equal({ client: "c1", retryAfterMs: 1000 });
    expect((await run(app, { method: "Get" })).status).to.equal(Status.OK);
    now = 1500;
    expect((await run(app, { method: "Put" })).status).to.equal(Status.OK);
  });

  it("admits a call that costs 0 without charging it", async () => {
    const app = application({ capacity: 1, refillPerSecond: 0.001, cost: () => 0 });
    for (let i = 0; i < 5; i++) expect((await run(app)).status).to.equal(Status.OK);
  });

  it("fails a call whose cost() is not a finite number >= 0 with INTERNAL", async () => {
    expect((await run(application({ cost: () => -1 }))).status).to.equal(Status.INTERNAL);
    expect((await run(application({ cost: () => Number.NaN }))).status).to.equal(Status.INTERNAL);
  });

  it("the same with a limiter that answers with a promise: cost() points asked, 0 not asked, a bad cost() INTERNAL", async () => {
    const asked: [string, number | undefined][] = [];
    const limiter = { consume: (key: string, points?: number) => (asked.push([key, points]), Promise.resolve(new TokenBucket({ capacity: 1, refillPerSecond: 1 }).consumeSync("x"))) };
    expect((await run(application({ limiter, cost: putCosts4 }), { method: "Put", peer: "c7" })).status).to.equal(Status.OK);
    const free = await run(application({ limiter, cost: () => 0 }));
    expect(free.status).to.equal(Status.OK);
    expect(free.state).to.not.have.property("rateLimit");
    expect(asked).to.deep.equal([["c7", 4]]);
    expect((await run(application({ limiter, cost: () => Number.NaN }))).status).to.equal(Status.INTERNAL);
    expect(asked).to.have.length(1);
  });

  it("keys by principal, by method and by metadata", async () => {
    const byPrincipal = application({ capacity: 1, refillPerSecond: 0.001, key: keyByPrincipal });
    expect((await run(byPrincipal, { subject: "alice", peer: "a" })).status).to.equal(Status.OK);
    expect((await run(byPrincipal, { subject: "alice", peer: "b" })).status).to.equal(Status.RESOURCE_EXHAUSTED);
    expect((await run(byPrincipal, { subject: "bob", peer: "a" })).status).to.equal(Status.OK);
    expect((await run(byPrincipal, { peer: "a" })).failure?.error.details?.["client"]).to.equal(undefined);
    const byMethod = application({ capacity: 1, refillPerSecond: 0.001, key: keyByMethod });
    expect((await run(byMethod, { method: "Get", peer: "a" })).status).to.equal(Status.OK);
    expect((await run(byMethod, { method: "Get", peer: "b" })).failure?.error.details).to.include({ client: "KeyValue/Get" });
    expect((await run(byMethod, { method: "Put", peer: "b" })).status).to.equal(Status.OK);
    const byTenant = application({ capacity: 1, refillPerSecond: 0.001, key: keyByMetadata("X-Tenant") });
    expect((await run(byTenant, { metadata: { "x-tenant": "t1" }, peer: "a" })).status).to.equal(Status.OK);
    expect((await run(byTenant, { metadata: { "x-tenant": "t1" }, peer: "b" })).failure?.error.details).to.include({ client: "x-tenant:t1" });
    expect((await run(byTenant, { peer: "b" })).status).to.equal(Status.OK);
  });

  describe("stacked limits", () => {
    it("admits a call only when every selecting limit does, and charges a refused call to none", async () => {
      const perPrincipal = new TokenBucket({ capacity: 5, refillPerSecond: 0.001, now: () => 0 });
      const puts = new TokenBucket({ capacity: 2, refillPerSecond: 0.001, now: () => 0 });
      const app = application({
        limits: [
          { name: "per-principal", limiter: perPrincipal, key: keyByPrincipal },
          { name: "puts", methods: "KeyValue/Put", limiter: puts, key: keyByMethod },
        ],
      });
      expect((await run(app, { method: "Put", subject: "alice" })).status).to.equal(Status.OK);
      expect((await run(app, { method: "Put", subject: "bob" })).status).to.equal(Status.OK);
      // puts is empty: these three are refused by it, and alice's own budget gets its point back each time.
      for (let i = 0; i < 3; i++) {
        const refused = await run(app, { method: "Put", subject: "alice" });
        expect(refused.interceptorFailed).to.equal("rate_limit");
        expect(refused.failure?.error.details).to.include({ limit: "puts", client: "KeyValue/Put" });
      }
      expect((await perPrincipal.get("principal:alice"))?.remainingPoints).to.equal(4);
      // Gets are not charged to puts: alice still has her four.
      expect(counts(await Promise.all(Array.from({ length: 6 }, () => run(app, { method: "Get", subject: "alice" }))))).to.deep.equal({ OK: 4, RESOURCE_EXHAUSTED: 2 });
    });

    it("charges each request message of a stream to every limit that charged the call, a refused message to none (chargeRequestMessages)", async () => {
      const perPrincipal = new TokenBucket({ capacity: 100, refillPerSecond: 0.001, now: () => 0 });
      const batches = new TokenBucket({ capacity: 10, refillPerSecond: 0.001, now: () => 0 });
      const app = new Application({ onError: () => {} })
        .use(auth({ tokens: new Map([["tok", "alice"]]) }))
        .use(rateLimit({ limits: [{ limiter: perPrincipal, key: keyByPrincipal }, { limiter: batches, key: keyByMethod }], chargeRequestMessages: true }))
        .handle(router([keyValueService()]));
      const client = createClient(new InProcessTransport(app, { peer: "c1" })).use(credentials({ token: "tok" }));
      async function* operations() {
        for (let i = 0; i < 20; i++) yield { put: { key: `k${i}`, value: "v" } };
      }
      const batch = client.bidi("KeyValue", "Batch", operations());
      let answered = 0;
      try {
        for await (const _ of batch) answered++;
      } catch {
        // the outcome is in .result
      }
      const end = await batch.result;
      expect([end.status, end.interceptorFailed]).to.deep.equal([Status.RESOURCE_EXHAUSTED, "rate_limit"]);
      // batches: 1 point for the call and 9 messages; the 10th message is refused by it and given back to alice.
      expect(answered).to.equal(9);
      expect((await perPrincipal.get("principal:alice"))?.remainingPoints).to.equal(90);
    });

    it("throws at once for single-limit options beside limits, and for a stacked limiter without reward()", () => {
      expect(() => rateLimit({ capacity: 1, limits: [{ capacity: 1 }] })).to.throw(TypeError, /per limit/);
      expect(() => rateLimit({ limits: [] })).to.throw(TypeError, /non-empty/);
      const noReward = { consume: () => Promise.reject(new Error("x")) };
      expect(() => rateLimit({ limits: [{ limiter: noReward }, { capacity: 1 }] })).to.throw(TypeError, /reward/);
    });
  });

  describe("on Redis", function () {
    this.timeout(20_000);
    let redis: RedisServer | undefined;
    let cluster: RedisCluster | undefined;
    let client: RedisClient | undefined;
    let clusterClient: RedisClient | undefined;
    let n = 0;
    before(async function () {
      requireRedis(this);
      [redis, cluster] = await Promise.all([RedisServer.start(), RedisCluster.start(3)]);
      client = await createRedisClient({ url: redis.url });
      clusterClient = await createRedisClient({ clusterNodes: cluster.seeds.split(",") });
      expect(await whenConnected(client, 2000)).to.equal("ready");
      expect(await whenConnected(clusterClient, 5000)).to.equal("ready");
    });
    after(async () => {
      if (client !== undefined) await closeRedisClient(client);
      if (clusterClient !== undefined) await closeRedisClient(clusterClient);
      await Promise.all([redis?.stop(), cluster?.stop()]);
    });

    for (const where of ["one Redis", "a Redis Cluster"] as const) {
      const bucket = (capacity: number): RedisTokenBucket =>
        new RedisTokenBucket({ client: (where === "one Redis" ? client : clusterClient)!, capacity, refillPerSecond: 0.001, keyPrefix: `w${++n}:`, timeoutMs: 2000 });

      it(`admits exactly the budget of weighted calls made at once (${where})`, async () => {
        const app = application({ limiter: bucket(30), cost: putCosts4 });
        // 30 points: 7 Puts of 4 leave 2, which two Gets of 1 take.
        const puts = await Promise.all(Array.from({ length: 20 }, () => run(app, { method: "Put" })));
        expect(counts(puts)).to.deep.equal({ OK: 7, RESOURCE_EXHAUSTED: 13 });
        const gets = await Promise.all(Array.from({ length: 20 }, () => run(app, { method: "Get" })));
        expect(counts(gets)).to.deep.equal({ OK: 2, RESOURCE_EXHAUSTED: 18 });
      });

      it(`refunds a stacked limit when another refuses, made at once (${where})`, async () => {
        const perPrincipal = bucket(100);
        const global = bucket(10);
        const app = application({ limits: [{ name: "per-principal", limiter: perPrincipal, key: keyByPrincipal }, { name: "global", limiter: global, key: keyByMethod }] });
        const replies = await Promise.all(Array.from({ length: 40 }, () => run(app, { subject: "alice" })));
        expect(counts(replies)).to.deep.equal({ OK: 10, RESOURCE_EXHAUSTED: 30 });
        // Every refused call's point was given back: alice spent exactly the 10 admitted.
        expect((await perPrincipal.get("principal:alice"))?.remainingPoints).to.equal(90);
      });
    }
  });
});
