// Weighted and stacked limits shared by a fleet of three bin/node processes through a private
// Redis and a private Redis Cluster, configured with --config: the fleet admits exactly the budget.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NodeProcess, type Reply, statuses } from "../support/fleet-node.js";
import { RedisCluster, RedisServer, requireRedis } from "../support/redis-servers.js";

/** Alice's own budget: 40 points, a Put costs 2; every Put of the fleet shares 12; nothing refills within a test. */
const CONFIG = {
  "auth-tokens": { valid_token: { subject: "alice" } },
  "rate-limits": [
    { name: "per-principal", key: "principal", capacity: 40, refillPerSecond: 0.001, cost: { "KeyValue/Put": 2 } },
    { name: "puts", key: "method", methods: "KeyValue/Put", capacity: 12, refillPerSecond: 0.001 },
  ],
};

/**
 * Long enough that a loaded machine never sends a call to the in-memory insurance bucket: what
 * is shown here is that the fleet's count is exact, not how it fails over (redis-fleet.spec.ts).
 */
const COMMAND_TIMEOUT_MS = 3000;

/** `count` calls of `method` from distinct clients, the i-th to node i mod 3, all at once. */
const spread = (nodes: readonly NodeProcess[], method: string, count: number): Promise<Reply[]> =>
  Promise.all(Array.from({ length: count }, (_, i) => nodes[i % nodes.length]!.call(`c${i}`, method, method === "Put" ? { key: "k", value: "v" } : { key: "k" })));

describe("bin/node fleets with stacked, weighted limits from --config", function () {
  this.timeout(30_000);
  let dir: string;
  let configFile: string;
  before(function () {
    requireRedis(this);
    dir = mkdtempSync(join(tmpdir(), "policy-fleet-"));
    configFile = join(dir, "node.json");
    writeFileSync(configFile, JSON.stringify(CONFIG));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const where of ["one Redis", "a Redis Cluster"] as const) {
    describe(where, () => {
      let redis: RedisServer | undefined;
      let cluster: RedisCluster | undefined;
      let nodes: NodeProcess[] = [];
      before(async () => {
        let env: Record<string, string>;
        if (where === "one Redis") {
          redis = await RedisServer.start();
          env = { REDIS_URL: redis.url };
        } else {
          cluster = await RedisCluster.start(3);
          env = { REDIS_CLUSTER_NODES: cluster.seeds };
        }
        nodes = await Promise.all(["n1", "n2", "n3"].map((id) => NodeProcess.start(id, { ...env, REDIS_KEY_PREFIX: "fleet:", REDIS_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS) }, ["--config", configFile])));
      });
      after(async () => {
        for (const node of nodes) node.kill();
        await Promise.all([redis?.stop(), cluster?.stop()]);
      });

      it("admits exactly 12 of 60 Puts (the shared limit), refunds alice's points for the rest, then exactly 16 Gets", async () => {
        expect(statuses(await spread(nodes, "Put", 60))).to.deep.equal({ OK: 12, RESOURCE_EXHAUSTED: 48 });
        // 40 - 12 x 2 = 16 points left for alice: the refused Puts were charged to neither limit.
        // (Each node keeps its own KeyValue data: a Get is admitted whether it finds the key or not.)
        const gets = statuses(await spread(nodes, "Get", 30));
        expect({ admitted: (gets["OK"] ?? 0) + (gets["NOT_FOUND"] ?? 0), refused: gets["RESOURCE_EXHAUSTED"] }).to.deep.equal({ admitted: 16, refused: 14 });
      });
    });
  }
});
