// A Redis Cluster master that dies sends only the clients of its own slots to the in-memory
// insurance bucket. What this pins: with one breaker for the whole Cluster, successes on the
// live shards and failures on the dead one toggle it, and the clients of every shard are
// admitted by Redis and by the insurance bucket in turn, up to twice their limit.
import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { RedisTokenBucket } from "../../lib/limiters/redis-token-bucket.js";
import { closeRedisClient, createRedisClient, type RedisClient, whenConnected } from "../../lib/redis/redis-client.js";
import { RedisCluster, type RedisServer, requireRedis } from "../support/redis-servers.js";

const CAPACITY = 20;

type Line = { level: "info" | "warn"; obj: Record<string, unknown>; msg: string };
function recordingLogger(): { lines: Line[]; info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void } {
  const lines: Line[] = [];
  const add = (level: Line["level"]) => (obj: object, msg?: string) => void lines.push({ level, obj: obj as Record<string, unknown>, msg: msg ?? "" });
  return { lines, info: add("info"), warn: add("warn") };
}

/** Three client ids whose buckets live on each master of `cluster`, by master. */
async function clientsByMaster(cluster: RedisCluster, limiter: RedisTokenBucket): Promise<Map<RedisServer, string[]>> {
  const byMaster = new Map<RedisServer, string[]>();
  for (let i = 0; [...byMaster.values()].filter((ids) => ids.length >= 3).length < 3; i++) {
    const id = `client-${i}`;
    const master = await cluster.nodeOf(limiter.keyOf(id));
    const ids = byMaster.get(master) ?? [];
    if (ids.length < 3) ids.push(id);
    byMaster.set(master, ids);
  }
  return byMaster;
}

/** `rounds` rounds, `everyMs` apart, of one consume per client, all of a round in one turn; admissions per client. */
async function consumeRounds(limiter: RedisTokenBucket, ids: readonly string[], rounds: number, everyMs: number, until?: () => boolean): Promise<Map<string, number>> {
  const admitted = new Map<string, number>(ids.map((id) => [id, 0]));
  for (let round = 0; round < rounds && until?.() !== true; round++) {
    await Promise.all(ids.map((id) => limiter.consume(id).then(() => void admitted.set(id, admitted.get(id)! + 1), () => undefined)));
    await sleep(everyMs);
  }
  return admitted;
}

describe("regression: a dead Redis Cluster master fails over only the clients of its own shard", function () {
  this.timeout(90_000);
  const stops: (() => Promise<void>)[] = [];
  before(function () {
    requireRedis(this);
  });
  afterEach(async () => {
    for (const stop of stops.splice(0).reverse()) await stop();
  });

  async function setUp(replicas: number, nodeTimeoutMs: number) {
    const cluster = await RedisCluster.start(3, { replicas, args: ["--cluster-require-full-coverage", "no", "--cluster-node-timeout", String(nodeTimeoutMs)] });
    stops.push(() => cluster.stop());
    const client: RedisClient = await createRedisClient({ clusterNodes: cluster.seeds.split(",") });
    stops.push(() => closeRedisClient(client));
    expect(await whenConnected(client, 5000)).to.equal("ready");
    const logger = recordingLogger();
    const limiter = new RedisTokenBucket({ client, capacity: CAPACITY, refillPerSecond: 0.001, keyPrefix: "shard:", timeoutMs: 250, logger });
    const byMaster = await clientsByMaster(cluster, limiter);
    expect(byMaster.size, "clients on every master").to.equal(3);
    return { logger, limiter, byMaster };
  }

  it("keeps the clients of the live masters exact and logs one state change for the dead shard only", async () => {
    const { logger, limiter, byMaster } = await setUp(0, 5000);
    const [dead, ...live] = [...byMaster.keys()];
    const before = logger.lines.length;
    await dead!.kill();
    const admitted = await consumeRounds(limiter, [...byMaster.values()].flat(), 50, 40);
    for (const master of live) for (const id of byMaster.get(master)!) expect(admitted.get(id), `${id}, live shard`).to.equal(CAPACITY);
    // The dead shard's clients: its insurance bucket of the same capacity, never more.
    for (const id of byMaster.get(dead!)!) expect(admitted.get(id), `${id}, dead shard`).to.equal(CAPACITY);
    const changes = logger.lines.slice(before);
    expect(changes.map((l) => `${l.level} ${l.msg.split(":")[0]}`)).to.deep.equal(["warn Redis Cluster shard lost"]);
    const shardOf = (id: string) => limiter.health.healthOf(limiter.health.slotOf(limiter.keyOf(id)));
    expect(shardOf(byMaster.get(dead!)![0]!).state).to.equal("down");
    for (const master of live) expect(shardOf(byMaster.get(master)![0]!).state).to.equal("up");
  });

  it("follows the replica's promotion: the dead shard is logged lost once and back once, and shares limits again", async () => {
    const { logger, limiter, byMaster } = await setUp(1, 1000);
    const [dead, ...live] = [...byMaster.keys()];
    const deadIds = byMaster.get(dead!)!;
    const slot = limiter.health.slotOf(limiter.keyOf(deadIds[0]!));
    const before = logger.lines.length;
    await dead!.kill();
    // Until the replica has taken over and the shard answers again (a few seconds), then a little more.
    let backAt: number | undefined;
    const admitted = await consumeRounds(limiter, [...byMaster.values()].flat(), 400, 40, () => {
      if (backAt === undefined && limiter.health.healthOf(slot).state === "up" && logger.lines.length > before) backAt = 0;
      return backAt !== undefined && ++backAt > 10;
    });
    expect(limiter.health.healthOf(slot).state, "the dead shard is back").to.equal("up");
    expect(logger.lines.slice(before).map((l) => `${l.level} ${l.msg.split(":")[0]}`)).to.deep.equal(["warn Redis Cluster shard lost", "info Redis Cluster shard back"]);
    for (const master of live) for (const id of byMaster.get(master)!) expect(admitted.get(id), `${id}, live shard`).to.equal(CAPACITY);
  });
});
