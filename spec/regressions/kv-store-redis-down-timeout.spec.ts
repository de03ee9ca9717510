// With KV_STORE=redis, a KeyValue call meets Redis twice (its rate limit, then its data). What
// this pins: while Redis does not answer, each call is still answered within the documented
// REDIS_COMMAND_TIMEOUT_MS (plus scheduling slack), and once the outage is known, at once:
// the store waits no longer than the limiter does and skips a Redis its breaker knows is out.
import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { NodeProcess, type Reply } from "../support/fleet-node.js";
import { RedisServer, requireRedis } from "../support/redis-servers.js";

const COMMAND_TIMEOUT_MS = 100;
/** Scheduling slack on a shared 2-core machine. */
const SLACK_MS = 60;

describe("regression: KV_STORE=redis with Redis down answers within the command timeout", function () {
  this.timeout(30_000);
  let redis: RedisServer | undefined;
  let node: NodeProcess | undefined;
  before(async function () {
    requireRedis(this);
    redis = await RedisServer.start();
  });
  afterEach(async () => {
    node?.kill();
    if (redis !== undefined && !redis.running) await redis.restart();
    redis?.freeze(false);
  });
  after(async () => redis?.stop());

  async function calls(count: number): Promise<Reply[]> {
    const replies: Reply[] = [];
    for (let i = 0; i < count; i++) {
      replies.push(await node!.call(`c${i % 3}`, "Get", { key: "k" }));
      await sleep(20);
    }
    return replies;
  }

  for (const [outage, cause] of [
    ["frozen (SIGSTOP)", () => redis!.freeze(true)],
    ["killed (SIGKILL)", () => redis!.kill()],
  ] as const) {
    it(`Redis ${outage}: every call UNAVAILABLE within ${COMMAND_TIMEOUT_MS} ms + slack, most at once`, async () => {
      node = await NodeProcess.start("n1", { REDIS_URL: redis!.url, KV_STORE: "redis", REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS), RATE_LIMIT_CAPACITY: "1000" });
      expect((await node.call("c0", "Put", { key: "k", value: "v" })).body["status"]).to.equal("OK");
      await cause();
      const replies = await calls(10);
      expect(replies.map((r) => r.body["status"])).to.deep.equal(Array(10).fill("UNAVAILABLE"));
      const ms = replies.map((r) => Math.round(r.ms));
      for (const each of ms) expect(each, `every call: ${ms.join(", ")}`).to.be.below(COMMAND_TIMEOUT_MS + SLACK_MS);
      // Only the probes (one per 250 ms) wait for Redis; the other calls skip it.
      expect(ms.filter((each) => each < SLACK_MS).length, `at once: ${ms.join(", ")}`).to.be.at.least(6);
    });
  }
});
