import { expect } from "chai";
import { performance } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { closeRedisClient, createRedisClient, type RedisClient, whenConnected } from "../../lib/redis/redis-client.js";
import { RedisStore, type RedisStoreOptions } from "../../lib/key-value/redis-store.js";
import { type Change, compareUtf8, type Entry } from "../../lib/key-value/store.js";
import { RedisCluster, RedisServer, requireRedis } from "../support/redis-servers.js";

/** Keys whose UTF-8 byte order differs from JavaScript's UTF-16 `<` order (U+1F600 against U+FFFD). */
const MULTI_BYTE_KEYS = ["m:z", "m:\u{1F600}", "m:\uFFFD", "m:\u00e9", "m:a", "m:", "m:\u{10FFFF}", "m:\uE000"];

async function collect(entries: AsyncIterable<Entry> | Iterable<Entry>): Promise<Entry[]> {
  const all: Entry[] = [];
  for await (const entry of entries) all.push(entry);
  return all;
}

/** The next change of `feed`, or a failure when none comes within 5 s. */
async function nextChange(feed: AsyncIterator<Change>): Promise<Change> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const step = await Promise.race([feed.next(), new Promise<never>((_, reject) => (timer = setTimeout(reject, 5000, new Error("no change within 5 s"))))]);
    if (step.done === true) throw new Error("the feed ended");
    return step.value;
  } finally {
    clearTimeout(timer);
  }
}

const never = new AbortController().signal;

/** The Scan and Watch specs, against the Redis `start()` makes (one server, or a Cluster). */
function scanAndWatch(start: () => Promise<{ clients: [RedisClient, RedisClient]; stop: () => Promise<void> }>): void {
  let clients: [RedisClient, RedisClient] | undefined;
  let stop: (() => Promise<void>) | undefined;
  const stores: RedisStore[] = [];
  let n = 0;
  /** A store on the first client (or `on`), under a prefix of its own. */
  const store = (options: Partial<RedisStoreOptions> = {}, on = 0, prefix = `s${n++}:`): RedisStore => {
    const made = new RedisStore({ client: clients![on as 0 | 1], keyPrefix: prefix, ...options });
    stores.push(made);
    return made;
  };

  before(async () => ({ clients, stop } = await start()));
  afterEach(async () => {
    for (const made of stores.splice(0)) await made.close();
  });
  after(async () => {
    for (const client of clients ?? []) await closeRedisClient(client);
    await stop?.();
  });

  describe("scan(prefix, limit, signal)", () => {
    it("streams keys in UTF-8 byte order, not UTF-16 order, values with them", async () => {
      const s = store({ scanPageSize: 3 });
      for (const key of MULTI_BYTE_KEYS) await s.set(key, `v${key}`);
      const expected = [...MULTI_BYTE_KEYS].sort(compareUtf8);
      expect(expected).not.to.deep.equal([...MULTI_BYTE_KEYS].sort());
      expect(await collect(s.scan("", 0, never))).to.deep.equal(expected.map((key) => ({ key, value: `v${key}` })));
    });

    it("keeps to the prefix: keys sorting before and after it are left out", async () => {
      const s = store();
      for (const key of ["a", "b", "b:1", "b:2", "b;", "c", "\u{1F600}b"]) await s.set(key, key);
      expect((await collect(s.scan("b:", 0, never))).map((e) => e.key)).to.deep.equal(["b:1", "b:2"]);
      expect((await collect(s.scan("\u{1F600}", 0, never))).map((e) => e.key)).to.deep.equal(["\u{1F600}b"]);
      expect(await collect(s.scan("nothing", 0, never))).to.deep.equal([]);
    });

    it("honours limit, across pages too", async () => {
      const s = store({ scanPageSize: 4 });
      for (let i = 0; i < 10; i++) await s.set(`k${i}`, String(i));
      expect((await collect(s.scan("k", 3, never))).map((e) => e.key)).to.deep.equal(["k0", "k1", "k2"]);
      expect((await collect(s.scan("k", 9, never))).length).to.equal(9);
      expect((await collect(s.scan("k", 0, never))).length).to.equal(10);
    });

    it("pages through more keys than a page holds, each key once, in order", async () => {
      const s = store({ scanPageSize: 7 });
      const keys = Array.from({ length: 100 }, (_, i) => `p:${String(i).padStart(3, "0")}`);
      await Promise.all(keys.map((key) => s.set(key, key)));
      const scanned = await collect(s.scan("p:", 0, never));
      expect(scanned.map((e) => e.key)).to.deep.equal(keys);
    });

    it("skips a key deleted while the scan runs, and stops when the signal aborts", async () => {
      const s = store({ scanPageSize: 2 });
      for (const key of ["a", "b", "c", "d", "e"]) await s.set(key, key);
      const controller = new AbortController();
      const seen: string[] = [];
      for await (const entry of s.scan("", 0, controller.signal)) {
        seen.push(entry.key);
        if (entry.key === "a") await s.delete("c");
        if (entry.key === "d") controller.abort();
      }
      expect(seen).to.deep.equal(["a", "b", "d"]);
    });
  });

  describe("watch(prefix, signal)", () => {
    it("sees a Put made through another store on another client (another node of the fleet), same value included", async () => {
      const prefix = `fleet${n++}:`;
      const watching = store({}, 0, prefix);
      const writing = store({}, 1, prefix);
      const controller = new AbortController();
      const feed = (await watching.watch("k", controller.signal))[Symbol.asyncIterator]();
      await writing.set("k1", "v\u00e9\u{1F600}");
      await writing.set("k1", "v\u00e9\u{1F600}");
      await writing.set("other", "x");
      await writing.set("k2", "");
      expect(await nextChange(feed)).to.deep.equal({ key: "k1", value: "v\u00e9\u{1F600}", deleted: false });
      expect(await nextChange(feed)).to.deep.equal({ key: "k1", value: "v\u00e9\u{1F600}", deleted: false });
      expect(await nextChange(feed)).to.deep.equal({ key: "k2", value: "", deleted: false });
      controller.abort();
    });

    it("sees each Delete that removed a value, and none that removed nothing", async () => {
      const prefix = `del${n++}:`;
      const watching = store({}, 0, prefix);
      const writing = store({}, 1, prefix);
      const controller = new AbortController();
      const feed = (await watching.watch("", controller.signal))[Symbol.asyncIterator]();
      await writing.delete("absent");
      await writing.set("k", "v");
      expect(await writing.delete("k")).to.equal(true);
      expect(await writing.delete("k")).to.equal(false);
      await writing.set("end", "");
      expect(await nextChange(feed)).to.deep.equal({ key: "k", value: "v", deleted: false });
      expect(await nextChange(feed)).to.deep.equal({ key: "k", value: "", deleted: true });
      expect(await nextChange(feed)).to.deep.equal({ key: "end", value: "", deleted: false });
      controller.abort();
    });

    it("delivers changes in the order Redis applied them, from two writers", async () => {
      const prefix = `order${n++}:`;
      const watching = store({}, 0, prefix);
      const writers = [store({}, 0, prefix), store({}, 1, prefix)];
      const controller = new AbortController();
      const feed = (await watching.watch("", controller.signal))[Symbol.asyncIterator]();
      // Each writer's own changes in its order; both writers' interleaving is Redis's.
      await Promise.all(writers.map(async (writer, w) => {
        for (let i = 0; i < 50; i++) await writer.set(`w${w}`, String(i));
      }));
      const seen: Record<string, string[]> = { w0: [], w1: [] };
      for (let i = 0; i < 100; i++) {
        const change = await nextChange(feed);
        seen[change.key]!.push(change.value);
      }
      const counting = Array.from({ length: 50 }, (_, i) => String(i));
      expect(seen).to.deep.equal({ w0: counting, w1: counting });
      // The last change heard is the value Redis holds.
      controller.abort();
    });

    it("ends when its signal aborts, and a second Watch on the same store keeps going", async () => {
      const s = store();
      const first = new AbortController();
      const second = new AbortController();
      const ended = (await s.watch("", first.signal))[Symbol.asyncIterator]();
      const going = (await s.watch("", second.signal))[Symbol.asyncIterator]();
      const pending = ended.next();
      first.abort();
      expect(await pending).to.deep.equal({ value: undefined, done: true });
      await s.set("k", "v");
      expect(await nextChange(going)).to.deep.equal({ key: "k", value: "v", deleted: false });
      second.abort();
      expect(await going.next()).to.deep.equal({ value: undefined, done: true });
    });

    it("ends a watcher more than maxPendingChanges behind with RESOURCE_EXHAUSTED", async () => {
      const s = store({ maxPendingChanges: 5 });
      const controller = new AbortController();
      const feed = (await s.watch("", controller.signal))[Symbol.asyncIterator]();
      // A reader that keeps up, fed by the same messages: once it has the sixth, the slow one has
      // overflowed. (It always waits for one, so even six arriving at once leave it five queued.)
      const keepingUp = (await s.watch("", controller.signal))[Symbol.asyncIterator]();
      const heard = (async () => {
        for (let i = 0; i < 6; i++) await nextChange(keepingUp);
      })();
      for (let i = 0; i < 6; i++) await s.set(`k${i}`, "v");
      await heard;
      const error = await feed.next().then(() => undefined, (e: unknown) => e);
      expect(error).to.include({ code: "RESOURCE_EXHAUSTED" });
      expect(await feed.next()).to.deep.equal({ value: undefined, done: true });
      controller.abort();
    });

    it("close() ends every open Watch", async () => {
      const s = store();
      const feed = (await s.watch("", never))[Symbol.asyncIterator]();
      await s.close();
      expect(await feed.next()).to.deep.equal({ value: undefined, done: true });
      expect(await s.watch("", never).then(() => undefined, (e: unknown) => e)).to.include({ code: "UNAVAILABLE" });
    });
  });
}

describe("RedisStore: Scan and Watch", function () {
  this.timeout(30_000);
  before(function () {
    requireRedis(this);
  });

  describe("on one Redis", () => {
    let redis: RedisServer | undefined;
    scanAndWatch(async () => {
      redis = await RedisServer.start();
      const clients = await Promise.all([0, 1].map(async () => {
        const client = await createRedisClient({ url: redis!.url, commandTimeoutMs: 2000 });
        await whenConnected(client, 2000);
        return client;
      }));
      return { clients: clients as [RedisClient, RedisClient], stop: () => redis!.stop() };
    });

    it("a reader that stops after the first entry costs one page, however many keys match", async () => {
      const client = await createRedisClient({ url: redis!.url, commandTimeoutMs: 2000 });
      await whenConnected(client, 2000);
      try {
        const s = new RedisStore({ client, keyPrefix: "stop:", scanPageSize: 10 });
        for (let i = 0; i < 100; i++) await s.set(`k${i}`, "v");
        const calls = async (): Promise<number> => Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis!.cli("info", "commandstats"))?.[1] ?? 0);
        const before = await calls();
        for await (const entry of s.scan("", 0, never)) {
          expect(entry.key).to.equal("k0");
          break;
        }
        expect((await calls()) - before).to.equal(1);
      } finally {
        await closeRedisClient(client);
      }
    });

    it("keys written as plain strings before the index existed: Get reads them, backfillIndex() makes Scan find them", async () => {
      const client = await createRedisClient({ url: redis!.url, commandTimeoutMs: 2000 });
      await whenConnected(client, 2000);
      try {
        await client.set("old:b", "2");
        await client.set("old:a", "1");
        await client.hset("old:not-a-string", "f", "v");
        const s = new RedisStore({ client, keyPrefix: "old:" });
        expect(await s.get("a")).to.equal("1");
        expect(await collect(s.scan("", 0, never))).to.deep.equal([]);
        expect(await s.backfillIndex()).to.equal(2);
        expect(await s.backfillIndex()).to.equal(0);
        expect(await collect(s.scan("", 0, never))).to.deep.equal([{ key: "a", value: "1" }, { key: "b", value: "2" }]);
        expect(await client.get("old:a")).to.equal("1");
      } finally {
        await closeRedisClient(client);
      }
    });

    it("ends an open Watch with UNAVAILABLE when its subscriber connection drops", async () => {
      const client = await createRedisClient({ url: redis!.url, commandTimeoutMs: 2000 });
      await whenConnected(client, 2000);
      const s = new RedisStore({ client, keyPrefix: "drop:" });
      try {
        const feed = (await s.watch("", never))[Symbol.asyncIterator]();
        await redis!.cli("client", "kill", "type", "pubsub");
        const error = await feed.next().then(() => undefined, (e: unknown) => e);
        expect(error).to.include({ code: "UNAVAILABLE" });
        // A new Watch subscribes again once the connection is back.
        const again = (await s.watch("", never))[Symbol.asyncIterator]();
        await s.set("k", "v");
        expect(await nextChange(again)).to.deep.equal({ key: "k", value: "v", deleted: false });
      } finally {
        await s.close();
        await closeRedisClient(client);
      }
    });

    it("with timeoutMs, a Scan page and a Watch's subscribing end UNAVAILABLE once Redis has not answered for that long", async () => {
      const client = await createRedisClient({ url: redis!.url, commandTimeoutMs: 2000 });
      await whenConnected(client, 2000);
      const s = new RedisStore({ client, keyPrefix: "slow:", timeoutMs: 60 });
      try {
        await s.set("k", "v");
        await redis!.cli("client", "pause", "400", "all");
        for (const attempt of [() => collect(s.scan("", 0, never)), () => s.watch("", never)]) {
          const start = performance.now();
          const error = await attempt().then(() => undefined, (e: unknown) => e);
          expect(error).to.include({ code: "UNAVAILABLE" });
          expect(performance.now() - start).to.be.within(55, 200);
        }
        await sleep(400);
      } finally {
        await s.close();
        await closeRedisClient(client);
      }
    });

    it("refuses a keyPrefix the index would fall under", () => {
      const client = { get: () => undefined, isCluster: false } as never;
      expect(() => new RedisStore({ client, keyPrefix: "" })).to.throw(RangeError, /keyPrefix/);
      expect(() => new RedisStore({ client, keyPrefix: "{" })).to.throw(RangeError, /keyPrefix/);
    });
  });

  describe("on a 3-master Redis Cluster", () => {
    let cluster: RedisCluster | undefined;
    scanAndWatch(async () => {
      cluster = await RedisCluster.start(3);
      const clients = await Promise.all([0, 1].map(async () => {
        const client = await createRedisClient({ clusterNodes: cluster!.seeds.split(","), commandTimeoutMs: 2000 });
        await whenConnected(client, 5000);
        return client;
      }));
      return { clients: clients as [RedisClient, RedisClient], stop: () => cluster!.stop() };
    });

    it("keeps a store's keys, index and values, in the slot of its hash tag; refuses a keyPrefix with braces", async () => {
      const client = await createRedisClient({ clusterNodes: cluster!.seeds.split(","), commandTimeoutMs: 2000 });
      try {
        await whenConnected(client, 5000);
        const s = new RedisStore({ client, keyPrefix: "slot:" });
        await s.set("x", "1");
        await s.set("\u{1F600}", "2");
        const holder = await cluster!.nodeOf("{slot:}");
        expect(await holder.cli("exists", "{slot:}:x", "{slot:}:\u{1F600}", "{slot:}index")).to.equal("3");
        expect(() => new RedisStore({ client, keyPrefix: "{app}:" })).to.throw(RangeError, /braces/);
      } finally {
        await closeRedisClient(client);
      }
    });

    it("subscribes one sharded connection, on the shard of the store's slot; a drop ends open Watches with UNAVAILABLE", async () => {
      const client = await createRedisClient({ clusterNodes: cluster!.seeds.split(","), commandTimeoutMs: 2000 });
      const s = new RedisStore({ client, keyPrefix: "shard:" });
      try {
        await whenConnected(client, 5000);
        const feed = (await s.watch("", never))[Symbol.asyncIterator]();
        await s.watch("", never);
        const holder = await cluster!.nodeOf("{shard:}");
        expect(await holder.cli("pubsub", "shardnumsub", "{shard:}changes")).to.equal("{shard:}changes\n1");
        for (const node of cluster!.nodes) if (node !== holder) expect(await node.cli("pubsub", "shardnumsub", "{shard:}changes")).to.equal("{shard:}changes\n0");
        await holder.cli("client", "kill", "type", "pubsub");
        const error = await feed.next().then(() => undefined, (e: unknown) => e);
        expect(error).to.include({ code: "UNAVAILABLE" });
        const again = (await s.watch("", never))[Symbol.asyncIterator]();
        await s.set("k", "v");
        expect(await nextChange(again)).to.deep.equal({ key: "k", value: "v", deleted: false });
      } finally {
        await s.close();
        await closeRedisClient(client);
      }
    });

    it("a key written as a plain string before the index existed: Get reads it, Delete removes it (and Watch hears it), Scan does not see it", async () => {
      const client = await createRedisClient({ clusterNodes: cluster!.seeds.split(","), commandTimeoutMs: 2000 });
      const s = new RedisStore({ client, keyPrefix: "legacy:" });
      try {
        await whenConnected(client, 5000);
        await client.set("legacy:old", "1");
        expect(await s.get("old")).to.equal("1");
        expect(await collect(s.scan("", 0, never))).to.deep.equal([]);
        const controller = new AbortController();
        const feed = (await s.watch("", controller.signal))[Symbol.asyncIterator]();
        expect(await s.delete("old")).to.equal(true);
        expect(await s.get("old")).to.equal(undefined);
        expect(await nextChange(feed)).to.deep.equal({ key: "old", value: "", deleted: true });
        controller.abort();
      } finally {
        await s.close();
        await closeRedisClient(client);
      }
    });
  });
});
