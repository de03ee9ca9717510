// A client id may hold any character. What this pins: on a Redis Cluster, an id with braces
// (`}`, `}x`, `}victim-1`) must not give a bucket key whose slot cluster-key-slot and Redis
// compute differently: such a batch goes to the wrong master, fails, and opens the breaker
// for every client of the node, whose calls the in-memory insurance bucket then admits again.
import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { RedisTokenBucket } from "../../lib/limiters/redis-token-bucket.js";
import { keySlot } from "../../lib/redis/key-slot.js";
import { closeRedisClient, createRedisClient, type RedisClient, whenConnected } from "../../lib/redis/redis-client.js";
import { RedisCluster, requireRedis } from "../support/redis-servers.js";

const CAPACITY = 20;
const VICTIMS = ["victim-1", "victim-2", "victim-3"];
/** Ids that end a hash tag early, leave it empty, or hash differently on the two sides. */
const ATTACKERS = ["}", "}x", "}victim-1", "}victim-2", "{", "{}", "a}b{c", "nul\u0000}", "lone \ud800 surrogate", "é{}"];

describe("regression: a client id with braces on a Redis Cluster cannot open the breaker for other clients", function () {
  this.timeout(60_000);
  let cluster: RedisCluster | undefined;
  const clients: RedisClient[] = [];

  before(async function () {
    requireRedis(this);
    cluster = await RedisCluster.start(3);
    for (let i = 0; i < 3; i++) {
      const client = await createRedisClient({ clusterNodes: cluster.seeds.split(",") });
      clients.push(client);
      expect(await whenConnected(client, 5000)).to.equal("ready");
    }
  });
  after(async () => {
    await Promise.all(clients.map((c) => closeRedisClient(c)));
    await cluster?.stop();
  });

  it("maps every id to a key whose slot the batcher and Redis (CLUSTER KEYSLOT) agree on", async () => {
    const limiter = new RedisTokenBucket({ client: clients[0]!, keyPrefix: "slots:" });
    for (const id of [...ATTACKERS, ...VICTIMS]) {
      const key = limiter.keyOf(id);
      expect(Number(await clients[0]!.call("cluster", "keyslot", key)), JSON.stringify(id)).to.equal(keySlot(key));
    }
  });

  it("holds three victims on three nodes exactly to their budget while one caller sends brace ids every 40 ms", async () => {
    const warnings: string[] = [];
    const logger = { info: () => undefined, warn: (_: object, msg?: string) => void warnings.push(msg ?? "") };
    // Three nodes of a fleet: each its own client, batches and insurance bucket.
    const fleet = clients.map((client) => new RedisTokenBucket({ client, capacity: CAPACITY, refillPerSecond: 0.001, keyPrefix: "brace:", timeoutMs: 1000, logger }));
    const admitted = new Map<string, number>();
    const count = (id: string) => (ok: unknown) => void admitted.set(id, (admitted.get(id) ?? 0) + (ok === true ? 1 : 0));
    for (let round = 0; round < 30; round++) {
      const calls: Promise<void>[] = [];
      for (const limiter of fleet) {
        // All in one turn, so that victims and attackers share the node's batches.
        for (const id of [...ATTACKERS, ...VICTIMS]) calls.push(limiter.consume(id).then(() => true, () => false).then(count(id)));
      }
      await Promise.all(calls);
      await sleep(40);
    }
    for (const victim of VICTIMS) expect(admitted.get(victim), victim).to.equal(CAPACITY);
    for (const attacker of ATTACKERS) expect(admitted.get(attacker), JSON.stringify(attacker)).to.equal(CAPACITY);
    expect(warnings, "no breaker opened").to.deep.equal([]);
  });
});
