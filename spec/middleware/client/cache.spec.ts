import { expect } from "chai";
import type { CallContext } from "../../../lib/core/context.js";
import { createClient } from "../../../lib/client/client.js";
import { InProcessTransport } from "../../../lib/client/transports/in-process-transport.js";
import type { Next } from "../../../lib/core/middleware.js";
import { Status } from "../../../lib/core/status.js";
import { cache, type CacheOptions } from "../../../middleware/client/cache.js";
import { FakeClock } from "../../support/fake-clock.js";
import { keyValueServer } from "../../support/servers.js";

function setup(options: Partial<CacheOptions> = {}, ...server: ((ctx: CallContext, next: Next) => Promise<void>)[]) {
  const clock = new FakeClock();
  const { app, seen, store } = keyValueServer(...server);
  const client = createClient(new InProcessTransport(app)).use(cache({ ttlMs: 1000, clock, ...options }));
  const gets = () => seen.filter((call) => call.path === "KeyValue/Get").length;
  return { clock, client, store, gets };
}

describe("cache({ ttlMs })", () => {
  it("answers a repeated Get from memory until ttlMs has passed", async () => {
    const { clock, client, store, gets } = setup();
    store.set("k", "v1");
    const first = await client.call("KeyValue", "Get", { key: "k" });
    await clock.advance(999);
    const second = await client.call("KeyValue", "Get", { key: "k" });
    expect(second.status).to.equal(Status.OK);
    expect(second.response).to.deep.equal(first.response);
    expect(second.interceptorsApplied, "no server saw it").to.equal(undefined);
    expect(gets()).to.equal(1);

    store.set("k", "v2"); // behind the client's back: seen once the entry expires
    await clock.advance(1);
    expect((await client.call("KeyValue", "Get", { key: "k" })).response).to.deep.include({ value: "v2" });
    expect(gets()).to.equal(2);
  });

  it("drops a key when the same client writes it (Put, Delete)", async () => {
    const { client, gets } = setup();
    await client.call("KeyValue", "Put", { key: "k", value: "v1" });
    await client.call("KeyValue", "Get", { key: "k" });
    await client.call("KeyValue", "Get", { key: "other" });
    await client.call("KeyValue", "Put", { key: "k", value: "v2" });
    expect((await client.call("KeyValue", "Get", { key: "k" })).response).to.deep.include({ value: "v2" });
    await client.call("KeyValue", "Delete", { key: "k" });
    expect((await client.call("KeyValue", "Get", { key: "k" })).status).to.equal(Status.NOT_FOUND);
    expect(gets()).to.equal(4); // k, other, k after Put, k after Delete
  });

  it("does not store a Get that overlapped a Put of its key", async () => {
    // The Get is held at the server until the Put has been sent: its answer may predate the Put.
    let releaseGet!: () => void;
    const held = new Promise<void>((resolve) => (releaseGet = resolve));
    const { client, store, gets } = setup({}, async function holdGets(ctx: CallContext, next: Next) {
      if (ctx.method === "Get") await held;
      await next();
    });
    store.set("k", "old");
    const get = client.call("KeyValue", "Get", { key: "k" });
    store.set("k", "new"); // the Get will read "new"... but another order would read "old"
    const put = client.call("KeyValue", "Put", { key: "k", value: "newest" });
    await put;
    releaseGet();
    await get;
    expect((await client.call("KeyValue", "Get", { key: "k" })).response).to.deep.include({ value: "newest" });
    expect(gets()).to.equal(2);
  });

  it("stops serving a key from memory as soon as a Put of it is sent", async () => {
    let releasePut!: () => void;
    const held = new Promise<void>((resolve) => (releasePut = resolve));
    const { client, gets } = setup({}, async function holdPuts(ctx: CallContext, next: Next) {
      if (ctx.method === "Put" && (ctx.request as { value: string }).value === "v2") await held;
      await next();
    });
    await client.call("KeyValue", "Put", { key: "k", value: "v1" });
    await client.call("KeyValue", "Get", { key: "k" });
    const put = client.call("KeyValue", "Put", { key: "k", value: "v2" });
    await client.call("KeyValue", "Get", { key: "k" }); // while the Put is in flight: not from memory
    expect(gets()).to.equal(2);
    releasePut();
    await put;
  });

  it("keeps only OK answers", async () => {
    const { client, gets } = setup();
    await client.call("KeyValue", "Get", { key: "missing" });
    await client.call("KeyValue", "Get", { key: "missing" });
    expect(gets()).to.equal(2);
  });

  it("hands out copies: changing an answer does not change the cache", async () => {
    const { client, store } = setup();
    store.set("k", "v");
    const first = await client.call("KeyValue", "Get", { key: "k" });
    (first.response as { value: string }).value = "scribbled";
    const again = await client.call("KeyValue", "Get", { key: "k" });
    (again.response as { value: string }).value = "scribbled too";
    expect((await client.call("KeyValue", "Get", { key: "k" })).response).to.deep.include({ value: "v" });
  });

  it("marks hits in ctx.state.cacheHit", async () => {
    const { clock, store } = setup();
    store.set("k", "v");
    const hits: boolean[] = [];
    const client = createClient(new InProcessTransport(keyValueServer().app))
      .use(async function watch(ctx: { state: { cacheHit?: boolean } }, next: Next) {
        await next();
        hits.push(ctx.state.cacheHit === true);
      })
      .use(cache({ ttlMs: 1000, clock }));
    await client.call("KeyValue", "Put", { key: "k", value: "v" });
    await client.call("KeyValue", "Get", { key: "k" });
    await client.call("KeyValue", "Get", { key: "k" });
    expect(hits).to.deep.equal([false, false, true]);
  });

  it("forgets the least recently used beyond maxEntries", async () => {
    const { client, store, gets } = setup({ maxEntries: 2 });
    for (const key of ["a", "b", "c"]) store.set(key, key);
    for (const key of ["a", "b", "a", "c", "a", "b"]) await client.call("KeyValue", "Get", { key });
    // a, b miss; a hit; c miss (evicts b); a hit; b miss
    expect(gets()).to.equal(4);
  });

  it("checks its options when created", () => {
    for (const options of [{}, { ttlMs: 0 }, { ttlMs: -1 }, { ttlMs: Infinity }, { ttlMs: 10, maxEntries: 0 }, { ttlMs: 10, keyOf: 3 as never }]) {
      expect(() => cache(options as CacheOptions), JSON.stringify(options)).to.throw(TypeError);
    }
  });
});
