// Two bin/node processes serving gRPC (--listen) on one private Redis with KV_STORE=redis: a
// Watch on one node hears the writes made through the other, a Scan on either is served from
// Redis, and keys written before the Scan index existed are found once the node has started.
import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { bareClient, bearer, grpc, readAll, unary } from "../support/bare-grpc.js";
import { type GrpcNode, startGrpcNode } from "../support/grpc-node.js";
import { RedisServer, requireRedis } from "../support/redis-servers.js";

const TOKEN = bearer("valid_token");
const PREFIX = "spec:";
/** The store's change channel and index for REDIS_KEY_PREFIX=spec: (docs/redis.md). */
const CHANNEL = `{${PREFIX}kv:}changes`;

/** Resolves once `read()` holds for `done`, or rejects after 5 s. */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const end = Date.now() + 5000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > end) throw new Error(`not so within 5 s: ${JSON.stringify(value)}`);
    await sleep(20);
  }
}

describe("bin/node --listen fleet with KV_STORE=redis: Watch and Scan across nodes", function () {
  this.timeout(30_000);
  let redis: RedisServer | undefined;
  const nodes: GrpcNode[] = [];
  const clients: grpc.Client[] = [];

  before(async function () {
    requireRedis(this);
    redis = await RedisServer.start();
    // Written as the store wrote values before it kept an index: a plain string key.
    await redis.cli("set", `${PREFIX}kv:w:0-old`, "before");
    const env = { REDIS_URL: redis.url, KV_STORE: "redis", REDIS_KEY_PREFIX: PREFIX, RATE_LIMIT_CAPACITY: "1000000", RATE_LIMIT_REFILL_PER_SEC: "1000000", GRPC_SHUTDOWN_GRACE_MS: "200" };
    nodes.push(...(await Promise.all([startGrpcNode(env), startGrpcNode(env)])));
  });
  after(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const { node } of nodes.splice(0)) if (!node.closed) node.kill("SIGKILL");
    await redis?.stop();
  });

  /** How many connections are subscribed to the store's channel (one per node that has watched). */
  const subscribers = async (): Promise<number> => Number((await redis!.cli("pubsub", "numsub", CHANNEL)).split("\n")[1]);
  const client = (index: number) => {
    const made = bareClient(nodes[index]!.target);
    clients.push(made);
    return made;
  };

  it("a Watch through node A sees node B's Puts and Deletes under its prefix, in order, until cancelled", async () => {
    const [a, b] = [client(0), client(1)];
    const watch = a["Watch"]!({ prefix: "w:" }, TOKEN) as grpc.ClientReadableStream<Record<string, unknown>>;
    const seen: Record<string, unknown>[] = [];
    watch.on("data", (change: Record<string, unknown>) => seen.push(change));
    const ended = readAll(watch);
    await until(subscribers, (count) => count === 1);
    for (const [method, request] of [["Put", { key: "w:1", value: "a\u00e9" }], ["Put", { key: "x:1", value: "elsewhere" }], ["Delete", { key: "w:1" }], ["Delete", { key: "w:1" }], ["Put", { key: "w:2", value: "b" }]] as const) {
      expect((await unary(b, method, request, TOKEN)).error).to.equal(undefined);
    }
    await until(async () => seen.length, (count) => count >= 3);
    expect(seen).to.deep.equal([
      { key: "w:1", value: "a\u00e9", deleted: false },
      { key: "w:1", value: "", deleted: true },
      { key: "w:2", value: "b", deleted: false },
    ]);
    watch.cancel();
    expect((await ended).error?.code).to.equal(grpc.status.CANCELLED);
  });

  it("a Scan through either node streams Redis's keys in UTF-8 byte order, within its prefix and limit, older keys included", async () => {
    const [a, b] = [client(0), client(1)];
    for (const key of ["w:\u{1F600}", "w:\uFFFD", "w:3"]) await unary(b, "Put", { key, value: key }, TOKEN);
    const expected = ["w:0-old", "w:2", "w:3", "w:\uFFFD", "w:\u{1F600}"];
    // The older key joins the index in the background once the node has started.
    const all = await until(async () => (await readAll(a["Scan"]!({ prefix: "w:" }, TOKEN) as grpc.ClientReadableStream<{ key: string }>)).messages as { key: string }[], (m) => m.length === expected.length);
    expect(all.map((m) => m.key)).to.deep.equal(expected);
    expect(all[0]).to.deep.equal({ key: "w:0-old", value: "before" });
    const limited = await readAll(b["Scan"]!({ prefix: "w:", limit: 2 }, TOKEN) as grpc.ClientReadableStream<{ key: string }>);
    expect(limited.error).to.equal(undefined);
    expect(limited.messages.map((m) => (m as { key: string }).key)).to.deep.equal(["w:0-old", "w:2"]);
  });

  it("on SIGTERM with a Watch open: the Watch ends, the subscriber connection closes, the node exits 0 by itself", async () => {
    const before = await subscribers();
    const watch = client(1)["Watch"]!({ prefix: "" }, TOKEN) as grpc.ClientReadableStream<unknown>;
    const ended = readAll(watch);
    await until(subscribers, (count) => count === before + 1);
    const { node } = nodes[1]!;
    node.kill("SIGTERM");
    expect((await node.exited()).code).to.equal(0);
    expect((await ended).error?.code).to.equal(grpc.status.UNAVAILABLE);
    await until(subscribers, (count) => count === before);
  });
});
