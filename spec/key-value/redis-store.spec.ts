import { expect } from "chai";
import { closeRedisClient, createRedisClient, type RedisClient, whenConnected } from "../../lib/redis/redis-client.js";
import { RedisStore } from "../../lib/key-value/redis-store.js";
import { StatusError } from "../../lib/core/status-error.js";
import { RedisHealth } from "../../lib/limiters/redis-health.js";
import { RedisServer, requireRedis } from "../support/redis-servers.js";

describe("RedisStore", function () {
  this.timeout(20_000);
  let redis: RedisServer | undefined;
  let client: RedisClient | undefined;

  before(async function () {
    requireRedis(this);
    redis = await RedisServer.start();
    client = await createRedisClient({ url: redis.url });
    await whenConnected(client, 2000);
  });
  after(async () => {
    if (client !== undefined) await closeRedisClient(client);
    await redis?.stop();
  });

  it("set(), get() and delete() keep one string key per entry under keyPrefix", async () => {
    const store = new RedisStore({ client: client!, keyPrefix: "app:kv:" });
    expect(await store.get("k")).to.equal(undefined);
    await store.set("k", "v\u00e9");
    expect(await store.get("k")).to.equal("v\u00e9");
    expect(await client!.get("app:kv:k")).to.equal("v\u00e9");
    expect(await store.delete("k")).to.equal(true);
    expect(await store.delete("k")).to.equal(false);
  });

  it("fails with UNAVAILABLE, the client's error as cause, when Redis cannot be reached", async () => {
    const dead = await createRedisClient({ url: "redis://127.0.0.1:1" });
    try {
      await whenConnected(dead, 2000);
      const error = await new RedisStore({ client: dead }).get("k").then(() => undefined, (e: unknown) => e);
      expect(error).to.be.instanceOf(StatusError);
      expect(error).to.include({ code: "UNAVAILABLE" });
      expect((error as StatusError).cause).to.be.instanceOf(Error);
    } finally {
      await closeRedisClient(dead);
    }
  });

  it("with timeoutMs, fails with UNAVAILABLE once Redis has not answered for that long, and tells its health", async () => {
    const health = new RedisHealth().watch(client!);
    const store = new RedisStore({ client: client!, keyPrefix: "timeout:", timeoutMs: 60, health });
    await redis!.cli("client", "pause", "300", "all");
    const start = performance.now();
    const error = await store.get("k").then(() => undefined, (e: unknown) => e);
    expect(performance.now() - start).to.be.within(55, 140);
    expect(error).to.include({ code: "UNAVAILABLE" });
    expect(health.state).to.equal("down");
    // Its breaker open, the next command (not a probe) does not wait at all.
    const again = performance.now();
    expect(await store.get("k").then(() => undefined, (e: unknown) => e)).to.include({ code: "UNAVAILABLE" });
    expect(performance.now() - again).to.be.below(20);
    await new Promise((resolve) => setTimeout(resolve, 300));
  });

  it("refuses a timeoutMs that is not a number > 0", () => {
    expect(() => new RedisStore({ client: client!, timeoutMs: 0 })).to.throw(RangeError, /timeoutMs/);
  });
});
