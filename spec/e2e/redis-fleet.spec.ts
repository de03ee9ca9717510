// bin/node fleets sharing limits through a private Redis and a private Redis Cluster, against
// real processes: one limit per client across the fleet, and every call answered while Redis fails.
import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { NodeProcess, type Reply, spread, statuses } from "../support/fleet-node.js";
import { freePort, RedisCluster, RedisServer, requireRedis } from "../support/redis-servers.js";

const CAPACITY = 20;
/** "Negligible": one token per 1000 s, nothing within a test. */
const NEGLIGIBLE = "0.001";
const PREFIX = "spec:";
/** docs/redis.md: every call answered within about 150 ms while Redis fails; the specs allow 250 ms. */
const MAX_MS_WHILE_FAILING = 250;
const COMMAND_TIMEOUT_MS = 100;

const fleetEnv = (redis: Record<string, string>, refill = NEGLIGIBLE): Record<string, string> => ({
  ...redis,
  RATE_LIMIT_CAPACITY: String(CAPACITY),
  RATE_LIMIT_REFILL_PER_SEC: refill,
  REDIS_KEY_PREFIX: PREFIX,
  REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
});

const startFleet = (ids: readonly string[], env: Record<string, string>): Promise<NodeProcess[]> => Promise.all(ids.map((id) => NodeProcess.start(id, env)));
const bucketKey = (client: string): string => `${PREFIX}rl:{${client}}`;

/** Resolves once every node counts a call in `redis` again (its bucket key appears there). */
async function untilShared(nodes: readonly NodeProcess[], redis: RedisServer, timeoutMs = 5000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (const node of nodes) {
    for (let i = 0; ; i++) {
      const client = `probe-${node.id}-${performance.now()}`;
      await node.call(client);
      if ((await redis.cli("exists", bucketKey(client))) === "1") break;
      if (performance.now() > deadline) throw new Error(`${node.id} did not use Redis again within ${timeoutMs} ms`);
      await sleep(50);
    }
  }
}

/**
 * Sends one call every `everyMs` for `forMs`, each from a new client and to the nodes in turn,
 * not waiting for replies (so a slow reply cannot hide the next); `at` runs actions on the way.
 */
async function stream(nodes: readonly NodeProcess[], forMs: number, everyMs: number, at: Record<number, () => Promise<void>>): Promise<Reply[]> {
  const start = performance.now();
  const replies: Promise<Reply>[] = [];
  const actions = Object.entries(at).map(([ms, action]) => sleep(Number(ms)).then(action));
  for (let i = 0; performance.now() - start < forMs; i++) {
    replies.push(nodes[i % nodes.length]!.call(`stream-${start}-${i}`));
    await sleep(everyMs);
  }
  await Promise.all(actions);
  return Promise.all(replies);
}

const slowest = (replies: readonly Reply[]): number => Math.max(...replies.map((r) => r.ms));

describe("bin/node with Redis: one limit per client across a fleet", function () {
  this.timeout(30_000);
  before(function () {
    requireRedis(this);
  });

  describe("REDIS_URL, three nodes on one Redis", () => {
    let redis: RedisServer | undefined;
    let nodes: NodeProcess[] = [];
    before(async () => {
      redis = await RedisServer.start();
      // Redis is up throughout: a command timeout long enough for a loaded machine, so that a
      // slow KeyValue command cannot turn a counted call UNAVAILABLE.
      nodes = await startFleet(["n1", "n2", "n3"], { ...fleetEnv({ REDIS_URL: redis.url }), KV_STORE: "redis", REDIS_COMMAND_TIMEOUT_MS: "2000" });
    });
    after(async () => {
      for (const node of nodes) node.kill();
      await redis?.stop();
    });

    it("admits exactly 20 of one client's 90 calls spread over the three (capacity 20, negligible refill)", async () => {
      const replies = await spread(nodes, "c1", 90);
      expect(statuses(replies)).to.deep.equal({ OK: 20, RESOURCE_EXHAUSTED: 70 });
      const stats = await Promise.all(nodes.map((n) => n.stats()));
      expect(stats.reduce((sum, s) => sum + s.rate_limited, 0)).to.equal(70);
      expect(await redis!.cli("exists", bucketKey("c1"))).to.equal("1");
    });

    it("KV_STORE=redis: a Put through one node is found by a Get through another", async () => {
      const put = await nodes[0]!.call("kv-writer", "Put", { key: "shared", value: "from n1" });
      expect(put.body).to.include({ status: "OK" });
      const got = await nodes[1]!.call("kv-reader", "Get", { key: "shared" });
      expect(got.body["response"]).to.deep.equal({ key: "shared", value: "from n1", found: true });
      const missing = await nodes[2]!.call("kv-reader", "Get", { key: "never-put" });
      expect(missing.body).to.include({ status: "NOT_FOUND" });
      expect(await redis!.cli("get", `${PREFIX}kv:shared`)).to.equal("from n1");
    });

    it("ends each node by itself with exit code 0 on EOF or SIGTERM (its Redis client closed, nothing left open)", async () => {
      const [n1, n2, n3] = nodes as [NodeProcess, NodeProcess, NodeProcess];
      expect(await Promise.all([n1.end(), n2.terminate(), n3.terminate()])).to.deep.equal([0, 0, 0]);
      expect(n2.logged(/^stopped$/)[0]).to.include({ reason: "SIGTERM" });
    });
  });

  describe("refill across nodes", () => {
    let redis: RedisServer | undefined;
    let nodes: NodeProcess[] = [];
    const REFILL = 5;
    before(async () => {
      redis = await RedisServer.start();
      nodes = await startFleet(["r1", "r2"], fleetEnv({ REDIS_URL: redis.url }, String(REFILL)));
    });
    after(async () => {
      for (const node of nodes) node.kill();
      await redis?.stop();
    });

    it("admits capacity + elapsed x rate, to within one token, after a measured pause", async () => {
      const sent1 = performance.now();
      const first = await spread(nodes, "refill", 30);
      const done1 = performance.now();
      await sleep(1000);
      const sent2 = performance.now();
      const second = await spread(nodes, "refill", 30);
      const done2 = performance.now();
      const admitted = (statuses(first)["OK"] ?? 0) + (statuses(second)["OK"] ?? 0);
      // The bucket was emptied by the first burst and never full again: what it admitted is
      // capacity plus the refill between its first and last call, a span inside these bounds.
      const least = CAPACITY + ((sent2 - done1) / 1000) * REFILL;
      const most = CAPACITY + ((done2 - sent1) / 1000) * REFILL;
      expect(admitted, `admitted ${admitted}, expected ${least.toFixed(2)}..${most.toFixed(2)}`).to.be.within(Math.floor(least) - 1, Math.ceil(most) + 1);
      expect(most - least, "the bursts were too slow to measure within one token").to.be.below(1);
    });
  });

  describe("REDIS_CLUSTER_NODES, three nodes on a 3-master Redis Cluster", () => {
    let cluster: RedisCluster | undefined;
    let nodes: NodeProcess[] = [];
    before(async function () {
      this.timeout(30_000);
      cluster = await RedisCluster.start(3);
      // These specs count exact sharing, not latency: a deadline missed on a loaded machine
      // would answer from the insurance bucket, so it is set far beyond any batch's time.
      nodes = await startFleet(["k1", "k2", "k3"], { ...fleetEnv({ REDIS_CLUSTER_NODES: cluster.seeds }), REDIS_COMMAND_TIMEOUT_MS: "2000" });
    });
    after(async () => {
      for (const node of nodes) node.kill();
      await cluster?.stop();
    });

    it("admits exactly 20 of each client's 90 calls, with client keys on every shard", async () => {
      // One client per master: the hash tag {client} decides the slot.
      const clients = new Map<RedisServer, string>();
      for (let i = 0; clients.size < cluster!.nodes.length; i++) {
        const owner = await cluster!.nodeOf(bucketKey(`cl-${i}`));
        if (!clients.has(owner)) clients.set(owner, `cl-${i}`);
        if (i > 100) throw new Error("no client found for some shard");
      }
      const results = await Promise.all([...clients.values()].map((client) => spread(nodes, client, 90)));
      for (const replies of results) expect(statuses(replies)).to.deep.equal({ OK: 20, RESOURCE_EXHAUSTED: 70 });
      for (const [owner, client] of clients) expect(await owner.cli("exists", bucketKey(client)), `${client} on ${owner.port}`).to.equal("1");
    });

    it("admits exactly 20 of the 90 calls of each client whose src holds braces or a NUL, and of the clients beside them", async () => {
      const hostile = ["}", "}x", "{}", "}cl-0", "nul\u0000}", "a{b}c"];
      const results = await Promise.all([...hostile, "beside-1", "beside-2"].map((client) => spread(nodes, client, 90)));
      for (const replies of results) expect(statuses(replies)).to.deep.equal({ OK: 20, RESOURCE_EXHAUSTED: 70 });
      for (const node of nodes) expect(node.logged(/lost/), `${node.id}: no breaker opened`).to.deep.equal([]);
      expect(await Promise.all(nodes.map((n) => n.end()))).to.deep.equal([0, 0, 0]);
    });
  });

  describe("Redis failing under a stream of calls", () => {
    let redis: RedisServer | undefined;
    let nodes: NodeProcess[] = [];
    before(async () => {
      redis = await RedisServer.start();
      nodes = await startFleet(["f1", "f2"], fleetEnv({ REDIS_URL: redis.url }));
    });
    after(async () => {
      for (const node of nodes) node.kill();
      await redis?.stop();
    });

    it("SIGKILL: answers every call within 250 ms, stays up, and shares limits again once Redis is back", async () => {
      const replies = await stream(nodes, 2000, 10, {
        300: () => redis!.kill("SIGKILL"),
        1300: () => redis!.restart(),
      });
      expect(replies.every((r) => r.body["status"] === "OK")).to.equal(true);
      expect(slowest(replies), `slowest of ${replies.length} replies`).to.be.below(MAX_MS_WHILE_FAILING);
      expect(nodes.every((n) => n.alive)).to.equal(true);
      await untilShared(nodes, redis!);
      expect(statuses(await spread(nodes, "after-restart", 90))).to.deep.equal({ OK: 20, RESOURCE_EXHAUSTED: 70 });
    });

    it("CLIENT PAUSE: answers every call within the command timeout plus a margin", async () => {
      const replies = await stream(nodes, 1500, 10, {
        200: async () => void (await redis!.cli("client", "pause", "800", "all")),
      });
      expect(replies.every((r) => r.body["status"] === "OK")).to.equal(true);
      expect(slowest(replies), `slowest of ${replies.length} replies`).to.be.below(COMMAND_TIMEOUT_MS + 150);
      await untilShared(nodes, redis!);
      expect(statuses(await spread(nodes, "after-pause", 90))).to.deep.equal({ OK: 20, RESOURCE_EXHAUSTED: 70 });
    });

    it("logged each outage once (not once per call) and exits 0 on EOF", async () => {
      expect(await Promise.all(nodes.map((n) => n.end()))).to.deep.equal([0, 0]);
      for (const node of nodes) {
        expect(node.logged(/^Redis lost/), `${node.id} "Redis lost" lines`).to.have.length(2);
        expect(node.logged(/^Redis back/), `${node.id} "Redis back" lines`).to.have.length(2);
      }
    });
  });

  describe("a wrong REDIS_URL at start", () => {
    it("logs one clear line (never the password) and serves from the in-memory insurance bucket", async () => {
      const port = await freePort();
      const node = await NodeProcess.start("w1", { ...fleetEnv({ REDIS_URL: `redis://app:s3cret-pw@127.0.0.1:${port}` }), LOG_LEVEL: "debug" });
      try {
        const replies = await spread([node], "w", 30);
        expect(statuses(replies)).to.deep.equal({ OK: 20, RESOURCE_EXHAUSTED: 10 });
        await sleep(1200); // several reconnection attempts
        replies.push(...(await spread([node], "w", 5)));
        expect(slowest(replies)).to.be.below(MAX_MS_WHILE_FAILING);
        expect(await node.end()).to.equal(0);
        const warnings = node.logs.filter((line) => Number(line["level"]) >= 40 || line["raw"] !== undefined);
        expect(warnings).to.have.length(1);
        expect(warnings[0]).to.include({ redis: "down" });
        expect(String(warnings[0]!["msg"])).to.match(/^Redis unreachable at start: .*insurance bucket/);
        expect(String(warnings[0]!["err"])).to.contain(`127.0.0.1:${port}`);
        expect(JSON.stringify(node.logs)).to.not.contain("s3cret-pw");
      } finally {
        node.kill();
      }
    });
  });
});
