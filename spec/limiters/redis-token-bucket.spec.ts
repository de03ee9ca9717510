import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { RateLimiterRedis, RateLimiterRes } from "rate-limiter-flexible";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { closeRedisClient, createRedisClient, type RedisClient, whenConnected } from "../../lib/redis/redis-client.js";
import { RedisTokenBucket } from "../../lib/limiters/redis-token-bucket.js";
import { TokenBucket } from "../../lib/limiters/token-bucket.js";
import { rateLimit } from "../../middleware/rate-limit.js";
import { RedisCluster, RedisServer, requireRedis } from "../support/redis-servers.js";

type Line = { level: "info" | "warn"; obj: object; msg: string | undefined };
function recordingLogger(): { lines: Line[]; info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void } {
  const lines: Line[] = [];
  return { lines, info: (obj, msg) => lines.push({ level: "info", obj, msg }), warn: (obj, msg) => lines.push({ level: "warn", obj, msg }) };
}

/** Settles `promise` into what it resolved or rejected with, and whether it resolved. */
async function outcome<T>(promise: Promise<T>): Promise<{ ok: boolean; value: T | unknown }> {
  try {
    return { ok: true, value: await promise };
  } catch (error) {
    return { ok: false, value: error };
  }
}

/** Scripts `server` has run so far (EVALSHA and EVAL, from INFO commandstats). */
async function scriptRuns(server: RedisServer): Promise<number> {
  const stats = await server.cli("info", "commandstats");
  let runs = 0;
  for (const match of stats.matchAll(/^cmdstat_(?:evalsha|eval):calls=(\d+)/gm)) runs += Number(match[1]);
  return runs;
}

/** The outcomes of `calls`, all made in one turn of the event loop (so they share batches). */
const inOneTurn = <T>(calls: readonly (() => Promise<T>)[]): Promise<{ ok: boolean; value: T | unknown }[]> => Promise.all(calls.map((call) => outcome(call())));

const fields = (res: unknown) => {
  const r = res as RateLimiterRes;
  return { remainingPoints: r.remainingPoints, consumedPoints: r.consumedPoints, isFirstInDuration: r.isFirstInDuration };
};

describe("RedisTokenBucket", function () {
  this.timeout(20_000);
  let redis: RedisServer | undefined;
  let client: RedisClient | undefined;
  let n = 0;
  /** A fresh key prefix per test, so tests share one Redis without sharing buckets. */
  const prefix = (): string => `t${++n}:`;

  before(async function () {
    requireRedis(this);
    redis = await RedisServer.start();
    client = await createRedisClient({ url: redis.url });
    client.setMaxListeners(50); // every limiter of these tests watches this one client
    expect(await whenConnected(client, 2000)).to.equal("ready");
  });
  after(async () => {
    if (client !== undefined) await closeRedisClient(client);
    await redis?.stop();
  });

  describe("consume(key, points)", () => {
    it("resolves and rejects with the same RateLimiterRes as the in-memory TokenBucket", async () => {
      const shared = new RedisTokenBucket({ client: client!, capacity: 3, refillPerSecond: 1, keyPrefix: prefix() });
      const memory = new TokenBucket({ capacity: 3, refillPerSecond: 1, now: () => 0 });
      for (let i = 0; i < 5; i++) {
        const [a, b] = await Promise.all([outcome(shared.consume("c1")), outcome(memory.consume("c1"))]);
        expect(a.ok, `call ${i + 1}`).to.equal(b.ok);
        expect(a.value).to.be.instanceOf(RateLimiterRes);
        expect(fields(a.value), `call ${i + 1}`).to.deep.equal(fields(b.value));
        // Redis's clock moves on a little between calls; the fake one does not.
        expect((a.value as RateLimiterRes).msBeforeNext).to.be.within((b.value as RateLimiterRes).msBeforeNext - 50, (b.value as RateLimiterRes).msBeforeNext);
      }
    });

    it("keeps one key per client, `${keyPrefix}{client}`, expiring when the bucket would be full again", async () => {
      const keyPrefix = prefix();
      const limiter = new RedisTokenBucket({ client: client!, capacity: 10, refillPerSecond: 5, keyPrefix });
      await limiter.consume("c1", 4);
      expect(limiter.keyOf("c1")).to.equal(`${keyPrefix}{c1}`);
      expect(await client!.keys(`${keyPrefix}*`)).to.deep.equal([`${keyPrefix}{c1}`]);
      expect(await client!.pttl(`${keyPrefix}{c1}`)).to.be.within(700, 800); // 4 tokens at 5/s
    });

    it("stores the bucket as one string \"tokens at\", and reads and replaces a hash {tokens, at} of an earlier version", async () => {
      const keyPrefix = prefix();
      const limiter = new RedisTokenBucket({ client: client!, capacity: 10, refillPerSecond: 0.001, keyPrefix });
      await limiter.consume("c1", 4);
      const [tokens, at] = (await client!.get(limiter.keyOf("c1")))!.split(" ").map(Number);
      expect(tokens).to.be.within(6, 6.001);
      const [seconds, micros] = (await client!.time()).map(Number);
      expect(at).to.be.within(seconds! * 1000 + micros! / 1000 - 1000, seconds! * 1000 + micros! / 1000);
      await client!.hset(limiter.keyOf("old"), "tokens", "3", "at", String(at));
      const res = await limiter.consume("old");
      expect(res.remainingPoints).to.equal(2);
      expect(await client!.type(limiter.keyOf("old"))).to.equal("string");
    });

    it("is one bucket for every limiter on the same Redis (the fleet's shared limit)", async () => {
      const keyPrefix = prefix();
      const nodes = [1, 2, 3].map(() => new RedisTokenBucket({ client: client!, capacity: 5, refillPerSecond: 0.001, keyPrefix }));
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => outcome(nodes[i % 3]!.consume("c1"))));
      expect(results.filter((r) => r.ok)).to.have.length(5);
    });

    it("with refillPerSecond 0 never refills: msBeforeNext is Infinity and the key does not expire", async () => {
      const keyPrefix = prefix();
      const limiter = new RedisTokenBucket({ client: client!, capacity: 1, refillPerSecond: 0, keyPrefix });
      expect((await limiter.consume("c1")).msBeforeNext).to.equal(Infinity);
      const rejected = await outcome(limiter.consume("c1"));
      expect(rejected.ok).to.equal(false);
      expect((rejected.value as RateLimiterRes).msBeforeNext).to.equal(Infinity);
      expect(await client!.pttl(`${keyPrefix}{c1}`)).to.equal(-1);
    });

    it("refills continuously by Redis's clock", async () => {
      const limiter = new RedisTokenBucket({ client: client!, capacity: 2, refillPerSecond: 20, keyPrefix: prefix() });
      await limiter.consume("c1", 2);
      expect((await outcome(limiter.consume("c1"))).ok).to.equal(false);
      await sleep(60); // 1.2 tokens
      expect((await outcome(limiter.consume("c1"))).ok).to.equal(true);
      expect((await outcome(limiter.consume("c1"))).ok).to.equal(false);
    });
  });

  describe("the calls of one turn", () => {
    it("go to Redis as one script run (a burst of 50 consumes of 50 clients)", async () => {
      const limiter = new RedisTokenBucket({ client: client!, capacity: 5, refillPerSecond: 0.001, keyPrefix: prefix() });
      await limiter.consume("warm-up"); // the script is in Redis's cache from here on
      const before = await scriptRuns(redis!);
      const results = await inOneTurn(Array.from({ length: 50 }, (_, i) => () => limiter.consume(`c${i}`)));
      expect(await scriptRuns(redis!)).to.equal(before + 1);
      expect(results.every((r) => r.ok && (r.value as RateLimiterRes).remainingPoints === 4)).to.equal(true);
    });

    it("see each other in order when they share a key: 8 consumes of one client with capacity 5 admit the first 5", async () => {
      const limiter = new RedisTokenBucket({ client: client!, capacity: 5, refillPerSecond: 0.001, keyPrefix: prefix() });
      const results = await inOneTurn(Array.from({ length: 8 }, () => () => limiter.consume("c1")));
      expect(results.map((r) => r.ok)).to.deep.equal([true, true, true, true, true, false, false, false]);
      expect(results.map((r) => (r.value as RateLimiterRes).remainingPoints)).to.deep.equal([4, 3, 2, 1, 0, 0, 0, 0]);
      expect(results.map((r) => (r.value as RateLimiterRes).isFirstInDuration)).to.deep.equal([true, false, false, false, false, false, false, false]);
    });

    it("answer admitted and refused calls, and every other op, as the in-memory TokenBucket does in the same order", async () => {
      const shared = new RedisTokenBucket({ client: client!, capacity: 3, refillPerSecond: 0.001, keyPrefix: prefix() });
      const memory = new TokenBucket({ capacity: 3, refillPerSecond: 0.001, now: () => 0 });
      const script = (limiter: RedisTokenBucket | TokenBucket) => [
        () => limiter.consume("a", 2),
        () => limiter.consume("b"),
        () => limiter.consume("a", 2), // refused: 1 left
        () => limiter.get("never"),
        () => limiter.penalty("b", 4),
        () => limiter.consume("b"), // refused: -2
        () => limiter.reward("b", 10),
        () => limiter.consume("a"),
        () => limiter.set("c", 2, 0),
        () => limiter.consume("c", 2), // refused: 1 left
        () => limiter.block("d", 1000),
        () => limiter.get("a"),
      ];
      const [a, b] = await Promise.all([inOneTurn(script(shared)), inOneTurn(script(memory))]);
      expect(a.map((r) => r.ok)).to.deep.equal(b.map((r) => r.ok));
      // isFirstInDuration is left out: on a new key Redis says true for set() and block() as well.
      const points = (r: { value: unknown }) => (r.value === null ? null : { remaining: (r.value as RateLimiterRes).remainingPoints, consumed: (r.value as RateLimiterRes).consumedPoints });
      expect(a.map(points)).to.deep.equal(b.map(points));
      expect(a.map((r) => r.ok)).to.deep.equal([true, true, false, true, true, false, true, true, true, false, true, true]);
    });

    it("go in runs of maxBatch calls at most, still in order (25 calls, maxBatch 10: three runs)", async () => {
      const limiter = new RedisTokenBucket({ client: client!, capacity: 20, refillPerSecond: 0.001, keyPrefix: prefix(), maxBatch: 10 });
      await limiter.consume("warm-up");
      const before = await scriptRuns(redis!);
      const results = await inOneTurn(Array.from({ length: 25 }, () => () => limiter.consume("c1")));
      expect(await scriptRuns(redis!)).to.equal(before + 3);
      expect(results.map((r) => r.ok)).to.deep.equal([...Array<boolean>(20).fill(true), ...Array<boolean>(5).fill(false)]);
      expect(() => new RedisTokenBucket({ client: client!, maxBatch: 0 })).to.throw(RangeError, /maxBatch/);
    });

    it("fall back to the insurance bucket together when their run times out, which counts as one failure", async () => {
      const logger = recordingLogger();
      const limiter = new RedisTokenBucket({ client: client!, capacity: 3, refillPerSecond: 0.001, keyPrefix: prefix(), timeoutMs: 80, logger });
      await limiter.consume("c1", 3); // Redis would refuse every call below; the full insurance bucket admits 3
      let failures = 0;
      const health = limiter.health.healthOf(0);
      const failed = health.failed.bind(health);
      health.failed = (error) => {
        failures++;
        failed(error);
      };
      await redis!.cli("client", "pause", "300", "all");
      const results = await inOneTurn(Array.from({ length: 4 }, () => () => limiter.consume("c1")));
      expect(results.map((r) => r.ok)).to.deep.equal([true, true, true, false]);
      expect(failures).to.equal(1);
      expect(logger.lines.filter((l) => l.level === "warn").map((l) => l.msg?.split(":")[0])).to.deep.equal(["Redis lost"]);
      await sleep(300);
    });
  });

  describe("penalty(), reward(), get(), set(), block(), delete()", () => {
    it("act on the shared bucket like TokenBucket's", async () => {
      const limiter = new RedisTokenBucket({ client: client!, capacity: 10, refillPerSecond: 0.001, keyPrefix: prefix() });
      expect(await limiter.get("c1")).to.equal(null);
      expect((await limiter.penalty("c1", 12)).remainingPoints).to.equal(0);
      expect((await limiter.get("c1"))!.consumedPoints).to.equal(12);
      expect((await limiter.reward("c1", 5)).consumedPoints).to.equal(7);
      expect((await limiter.set("c1", 3, 0)).remainingPoints).to.equal(7);
      expect((await limiter.block("c1", 1)).remainingPoints).to.equal(0);
      expect(await limiter.delete("c1")).to.equal(true);
      expect(await limiter.get("c1")).to.equal(null);
    });
  });

  describe("when Redis does not answer", () => {
    it("answers from the insurance bucket within timeoutMs, logs once, and goes back to Redis once it answers", async () => {
      const logger = recordingLogger();
      const keyPrefix = prefix();
      const limiter = new RedisTokenBucket({ client: client!, capacity: 5, refillPerSecond: 0.001, keyPrefix, timeoutMs: 80, probeEveryMs: 50, logger });
      await limiter.consume("c1", 4); // 1 left in Redis
      await redis!.cli("client", "pause", "400", "all");
      const start = performance.now();
      const during = await Promise.all(Array.from({ length: 3 }, () => outcome(limiter.consume("c1"))));
      expect(performance.now() - start).to.be.below(80 + 100);
      expect(during.every((r) => r.ok)).to.equal(true); // the insurance bucket is full
      expect(limiter.health.state).to.equal("down");
      for (let i = 0; i < 20; i++) await outcome(limiter.consume("c1"));
      await sleep(500);
      for (let i = 0; limiter.health.state !== "up" && i < 20; i++) {
        await outcome(limiter.consume("other"));
        await sleep(60);
      }
      expect(limiter.health.state).to.equal("up");
      expect(logger.lines.map((l) => [l.level, l.msg?.split(":")[0]])).to.deep.equal([
        ["info", "Redis connected"],
        ["warn", "Redis lost"],
        ["info", "Redis back"],
      ]);
    });

    it("answers from the insurance bucket at once when Redis is unreachable", async () => {
      const dead = await createRedisClient({ url: "redis://127.0.0.1:1" });
      try {
        const logger = recordingLogger();
        const limiter = new RedisTokenBucket({ client: dead, capacity: 2, refillPerSecond: 0.001, logger });
        await whenConnected(dead, 2000);
        const start = performance.now();
        const results = await Promise.all([1, 2, 3].map(() => outcome(limiter.consume("c1"))));
        expect(performance.now() - start).to.be.below(50);
        expect(results.map((r) => r.ok)).to.deep.equal([true, true, false]);
        expect(logger.lines).to.have.length(1);
        expect(logger.lines[0]!.msg).to.match(/^Redis unreachable at start/);
      } finally {
        await closeRedisClient(dead);
      }
    });
  });

  describe("rateLimit({ limiter })", () => {
    it("takes a RedisTokenBucket like any limiter, and still takes rate-limiter-flexible's RateLimiterRedis", async () => {
      const limiters = [
        new RedisTokenBucket({ client: client!, capacity: 2, refillPerSecond: 0.001, keyPrefix: prefix() }),
        new RateLimiterRedis({ storeClient: client!, points: 2, duration: 60, keyPrefix: prefix() }),
      ];
      for (const limiter of limiters) {
        const app: Application = new Application().use(rateLimit({ limiter })).handle((ctx) => void (ctx.response = {}));
        const seen: string[] = [];
        for (let i = 0; i < 3; i++) {
          const ctx = new CallContext({ service: "S", method: "M", request: {}, peer: "c1" });
          await app.run(ctx);
          seen.push(ctx.status);
        }
        expect(seen, limiter.constructor.name).to.deep.equal(["OK", "OK", "RESOURCE_EXHAUSTED"]);
      }
    });
  });
});

describe("RedisTokenBucket on a Redis Cluster", function () {
  this.timeout(30_000);
  let cluster: RedisCluster | undefined;
  let client: RedisClient | undefined;

  before(async function () {
    requireRedis(this);
    cluster = await RedisCluster.start(3);
    client = await createRedisClient({ clusterNodes: cluster.seeds.split(",") });
    expect(await whenConnected(client, 5000)).to.equal("ready");
  });
  after(async () => {
    if (client !== undefined) await closeRedisClient(client);
    await cluster?.stop();
  });

  it("runs the calls of one turn as one script per slot, each key exact (30 clients x 3 calls, capacity 2)", async () => {
    const limiter = new RedisTokenBucket({ client: client!, capacity: 2, refillPerSecond: 0.001, keyPrefix: "cl:" });
    const clients = Array.from({ length: 30 }, (_, i) => `k${i}`);
    await inOneTurn(clients.map((c) => () => limiter.consume(`warm-${c}`))); // loads the script on every master
    const slots = new Set(await Promise.all(clients.map((c) => cluster!.nodes[0]!.cli("cluster", "keyslot", limiter.keyOf(c)))));
    const runs = async () => (await Promise.all(cluster!.nodes.map(scriptRuns))).reduce((sum, n) => sum + n, 0);
    const before = await runs();
    const results = await inOneTurn(clients.flatMap((c) => [1, 2, 3].map(() => () => limiter.consume(c))));
    expect(await runs()).to.equal(before + slots.size);
    expect(limiter.health.state).to.equal("up");
    for (let i = 0; i < clients.length; i++) expect(results.slice(3 * i, 3 * i + 3).map((r) => r.ok), clients[i]).to.deep.equal([true, true, false]);
  });
});
