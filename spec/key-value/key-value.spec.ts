import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { type KeyValueOptions, type KeyValueStore, keyValueService, MemoryStore } from "../../lib/key-value/key-value.js";
import { router } from "../../lib/core/service.js";
import { Status } from "../../lib/core/status.js";

/** The KeyValue service behind a bare application (no middleware), over `store`. */
function service(store: KeyValueStore = new MemoryStore(), options: KeyValueOptions = {}) {
  const app = new Application({ onError: () => {} }).handle(router([keyValueService(store, options)]));
  return async (method: string, request: unknown): Promise<CallContext> => {
    const ctx = new CallContext({ service: "KeyValue", method, request, peer: "c1" });
    await app.run(ctx);
    return ctx;
  };
}

describe("keyValueService()", () => {
  it("Put stores a value and answers {written: true}; Get answers {key, value, found: true}", async () => {
    const call = service();
    const put = await call("Put", { key: "k", value: "v" });
    expect([put.status, put.response]).to.deep.equal([Status.OK, { written: true }]);
    const get = await call("Get", { key: "k" });
    expect([get.status, get.response]).to.deep.equal([Status.OK, { key: "k", value: "v", found: true }]);
  });

  it("Get of a missing key is NOT_FOUND with {key, found: false}, not a failure", async () => {
    const get = await service()("Get", { key: "nope" });
    expect(get.status).to.equal(Status.NOT_FOUND);
    expect(get.response).to.deep.equal({ key: "nope", found: false });
    expect(get.failure).to.equal(undefined);
  });

  it("Delete answers whether the key was there, OK either way", async () => {
    const call = service();
    await call("Put", { key: "k", value: "v" });
    expect((await call("Delete", { key: "k" })).response).to.deep.equal({ key: "k", deleted: true });
    expect((await call("Delete", { key: "k" })).response).to.deep.equal({ key: "k", deleted: false });
    expect((await call("Get", { key: "k" })).status).to.equal(Status.NOT_FOUND);
  });

  it("overwrites on Put and keeps keys apart", async () => {
    const call = service();
    await call("Put", { key: "a", value: "1" });
    await call("Put", { key: "a", value: "2" });
    await call("Put", { key: "b", value: "3" });
    expect((await call("Get", { key: "a" })).response).to.deep.include({ value: "2" });
    expect((await call("Get", { key: "b" })).response).to.deep.include({ value: "3" });
  });

  for (const [method, request] of [
    ["Get", "k"],
    ["Get", null],
    ["Get", ["k"]],
    ["Get", {}],
    ["Get", { key: 1 }],
    ["Put", { key: "k" }],
    ["Put", { key: "k", value: 5 }],
    ["Delete", { value: "v" }],
  ] as const) {
    it(`${method} ${JSON.stringify(request)} is INVALID_ARGUMENT without a response`, async () => {
      const ctx = await service()(method, request);
      expect(ctx.status).to.equal(Status.INVALID_ARGUMENT);
      expect(ctx.response).to.equal(undefined);
      expect(ctx.failure?.at).to.equal("handler");
    });
  }

  it("does not take a key from the request's prototype", async () => {
    const ctx = await service()("Get", Object.create({ key: "inherited" }) as object);
    expect(ctx.status).to.equal(Status.INVALID_ARGUMENT);
  });

  describe("size limits", () => {
    const limits = { maxKeyBytes: 8, maxValueBytes: 12 };

    it("keeps a key and a value of exactly their limit, counted in UTF-8 bytes", async () => {
      const call = service(new MemoryStore(), limits);
      expect((await call("Put", { key: "12345678", value: "\u00e9".repeat(6) })).status).to.equal(Status.OK);
      expect((await call("Get", { key: "12345678" })).response).to.deep.equal({ key: "12345678", value: "\u00e9".repeat(6), found: true });
    });

    for (const [method, request, what] of [
      ["Get", { key: "123456789" }, "a key one byte over"],
      ["Delete", { key: "\u00e9\u00e9\u00e9\u00e9\u00e9" }, "a key of 5 characters but 10 bytes"],
      ["Put", { key: "k", value: "\u{1f600}\u{1f600}\u{1f600}x" }, "a value of 13 bytes (three 4-byte characters)"],
      ["Put", { key: "k".repeat(10_000), value: "v" }, "a key of 10,000 bytes"],
    ] as const) {
      it(`refuses ${what} with INVALID_ARGUMENT, stores nothing, and says why in the error (not on the wire)`, async () => {
        const store = new MemoryStore();
        const ctx = await service(store, limits)(method, request);
        expect(ctx.status).to.equal(Status.INVALID_ARGUMENT);
        expect(ctx.response).to.equal(undefined);
        expect(ctx.failure?.error.message).to.match(/longer than (8|12) bytes/);
        expect(store.size).to.equal(0);
      });
    }

    it("defaults to 1024-byte keys and 1 MiB values", async () => {
      const call = service();
      expect((await call("Put", { key: "k".repeat(1024), value: "v".repeat(1024 * 1024) })).status).to.equal(Status.OK);
      expect((await call("Put", { key: "k".repeat(1025), value: "v" })).status).to.equal(Status.INVALID_ARGUMENT);
      expect((await call("Put", { key: "k", value: "v".repeat(1024 * 1024 + 1) })).status).to.equal(Status.INVALID_ARGUMENT);
    });

    it("rejects a limit that is not a positive integer when the service is made", () => {
      expect(() => keyValueService(new MemoryStore(), { maxKeyBytes: 0 })).to.throw(RangeError, /maxKeyBytes/);
      expect(() => keyValueService(new MemoryStore(), { maxValueBytes: 1.5 })).to.throw(RangeError, /maxValueBytes/);
    });
  });

  it("works over an asynchronous store", async () => {
    const data = new Map<string, string>();
    const store: KeyValueStore = {
      get: async (key) => data.get(key),
      set: async (key, value) => void data.set(key, value),
      delete: async (key) => data.delete(key),
    };
    const call = service(store);
    await call("Put", { key: "k", value: "v" });
    expect((await call("Get", { key: "k" })).response).to.deep.equal({ key: "k", value: "v", found: true });
  });
});

describe("MemoryStore", () => {
  it("counts its keys", () => {
    const store = new MemoryStore();
    store.set("a", "1");
    store.set("a", "2");
    store.set("b", "3");
    expect(store.size).to.equal(2);
    expect(store.delete("a")).to.equal(true);
    expect(store.size).to.equal(1);
  });
});
