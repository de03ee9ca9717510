import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { router } from "../../lib/core/service.js";
import { Status, statusCode } from "../../lib/core/status.js";
import type { StatusError } from "../../lib/core/status-error.js";
import { createClient } from "../../lib/client/client.js";
import { InProcessTransport } from "../../lib/client/transports/in-process-transport.js";
import { keyValueService } from "../../lib/key-value/key-value.js";
import { MemoryStore } from "../../lib/key-value/memory-store.js";
import { compareUtf8 } from "../../lib/key-value/store.js";

const tick = (ms = 1): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function kv(store = new MemoryStore()) {
  const app = new Application().handle(router([keyValueService(store)]));
  return { store, app, client: createClient(new InProcessTransport(app)) };
}

async function collect(stream: AsyncIterable<unknown>): Promise<{ messages: unknown[]; error: StatusError | undefined }> {
  const messages: unknown[] = [];
  try {
    for await (const message of stream) messages.push(message);
    return { messages, error: undefined };
  } catch (error) {
    return { messages, error: error as StatusError };
  }
}

async function* each(items: readonly unknown[]): AsyncGenerator<unknown> {
  for (const item of items) yield item;
}

describe("compareUtf8()", () => {
  it("orders by UTF-8 bytes: a supplementary character after U+FFFD, unlike <", () => {
    const keys = ["\u{1F600}", "\uFFFD", "a", "", "ab", "\u00e9"];
    expect([...keys].sort(compareUtf8)).to.deep.equal(["", "a", "ab", "\u00e9", "\uFFFD", "\u{1F600}"]);
    const bytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect([...keys].sort(compareUtf8)).to.deep.equal(bytes);
  });
});

describe("KeyValue/Scan (server streaming)", () => {
  it("streams the entries under the prefix in UTF-8 byte order, the first `limit` of them", async () => {
    const { store, client } = kv();
    for (const key of ["user:\u{1F600}", "user:\uFFFD", "user:b", "user:a", "other", "user:"]) store.set(key, `v-${key}`);
    const all = await collect(client.serverStream("KeyValue", "Scan", { prefix: "user:" }));
    expect(all.messages.map((entry) => (entry as { key: string }).key)).to.deep.equal(["user:", "user:a", "user:b", "user:\uFFFD", "user:\u{1F600}"]);
    expect(all.messages[1]).to.deep.equal({ key: "user:a", value: "v-user:a" });
    const firstTwo = await collect(client.serverStream("KeyValue", "Scan", { prefix: "user:", limit: 2 }));
    expect(firstTwo.messages).to.deep.equal([{ key: "user:", value: "v-user:" }, { key: "user:a", value: "v-user:a" }]);
    expect((await collect(client.serverStream("KeyValue", "Scan", {}))).messages).to.have.length(6);
  });

  it("stops reading the store when the client stops reading", async () => {
    const { store, client } = kv();
    for (let i = 0; i < 10_000; i++) store.set(`k${String(i).padStart(5, "0")}`, "v");
    const scan = client.serverStream("KeyValue", "Scan", { prefix: "k" });
    const seen: unknown[] = [];
    for await (const entry of scan) if (seen.push(entry) === 3) break;
    expect((await scan.result).status).to.equal(Status.CANCELLED);
  });

  it("answers INVALID_ARGUMENT for a bad prefix or limit", async () => {
    const { client } = kv();
    for (const request of [{ prefix: 3 }, { limit: -1 }, { limit: 1.5 }, { limit: 2 ** 32 }, "x"]) {
      expect((await collect(client.serverStream("KeyValue", "Scan", request))).error?.code, JSON.stringify(request)).to.equal(Status.INVALID_ARGUMENT);
    }
  });
});

describe("KeyValue/Watch (server streaming)", () => {
  it("streams every change under the prefix made after it subscribed, in order, until cancelled", async () => {
    const { client } = kv();
    await client.call("KeyValue", "Put", { key: "w:before", value: "0" });
    const controller = new AbortController();
    const watch = client.serverStream("KeyValue", "Watch", { prefix: "w:" }, { signal: controller.signal });
    const reading = collect(watch);
    await tick(5);
    await client.call("KeyValue", "Put", { key: "w:a", value: "1" });
    await client.call("KeyValue", "Put", { key: "elsewhere", value: "x" });
    await client.call("KeyValue", "Put", { key: "w:a", value: "1" });
    await client.call("KeyValue", "Delete", { key: "w:a" });
    await client.call("KeyValue", "Delete", { key: "w:missing" });
    await tick(5);
    controller.abort();
    const { messages, error } = await reading;
    expect(messages).to.deep.equal([
      { key: "w:a", value: "1", deleted: false },
      { key: "w:a", value: "1", deleted: false },
      { key: "w:a", value: "", deleted: true },
    ]);
    expect(error?.code).to.equal(Status.CANCELLED);
  });

  it("ends DEADLINE_EXCEEDED at its deadline and UNAVAILABLE at shutdown, leaving no watcher behind", async () => {
    const { app, client, store } = kv();
    const timed = await collect(client.serverStream("KeyValue", "Watch", { prefix: "" }, { timeoutMs: 20 }));
    expect(timed.error?.code).to.equal(Status.DEADLINE_EXCEEDED);
    const open = collect(client.serverStream("KeyValue", "Watch", { prefix: "" }));
    await tick(5);
    await app.shutdown();
    expect((await open).error?.code).to.equal(Status.UNAVAILABLE);
    // A change now reaches no feed (a watcher left behind would queue it).
    store.set("after", "x");
  });

  it("ends RESOURCE_EXHAUSTED for a watcher that falls more than maxPendingChanges behind", async () => {
    const { client, store } = kv(new MemoryStore({ maxPendingChanges: 3 }));
    const watch = client.serverStream("KeyValue", "Watch", { prefix: "" });
    const iterator = watch[Symbol.asyncIterator]();
    const first = iterator.next();
    await tick(5);
    for (let i = 0; i < 10; i++) store.set(`k${i}`, "v");
    expect((await first).value).to.deep.equal({ key: "k0", value: "v", deleted: false });
    const rest: unknown[] = [];
    try {
      for (;;) {
        const step = await iterator.next();
        if (step.done === true) break;
        rest.push(step.value);
      }
    } catch (error) {
      expect((error as StatusError).code).to.equal(Status.RESOURCE_EXHAUSTED);
    }
    expect(rest.length).to.be.at.most(4);
    expect((await watch.result).status).to.equal(Status.RESOURCE_EXHAUSTED);
  });
});

describe("KeyValue/PutMany (client streaming)", () => {
  it("applies the puts in order and answers the count at the half-close", async () => {
    const { client, store } = kv();
    const result = await client.clientStream("KeyValue", "PutMany", each([{ key: "a", value: "1" }, { key: "b", value: "2" }, { key: "a", value: "3" }]));
    expect([result.status, result.response]).to.deep.equal([Status.OK, { written: 3 }]);
    expect([store.get("a"), store.get("b")]).to.deep.equal(["3", "2"]);
  });

  it("ends INVALID_ARGUMENT at an invalid item; the items before it stay written", async () => {
    const { client, store } = kv();
    const result = await client.clientStream("KeyValue", "PutMany", each([{ key: "a", value: "1" }, { key: "b" }, { key: "c", value: "3" }]));
    expect(result.status).to.equal(Status.INVALID_ARGUMENT);
    expect([store.get("a"), store.get("b"), store.get("c")]).to.deep.equal(["1", undefined, undefined]);
  });
});

describe("KeyValue/Batch (bidirectional)", () => {
  it("answers one result per operation, in order; a failing operation fails alone", async () => {
    const { client } = kv();
    const operations = [
      { put: { key: "a", value: "1" } },
      { get: { key: "a" } },
      { get: { key: "missing" } },
      { delete: { key: "a" } },
      {},
      { get: { key: 7 } },
      { put: { key: "b", value: "2" }, get: { key: "b" } },
      { delete: { key: "a" } },
    ];
    const batch = client.bidi("KeyValue", "Batch", each(operations));
    const { messages, error } = await collect(batch);
    expect(error).to.equal(undefined);
    expect(messages).to.deep.equal([
      { code: 0, put: { written: true } },
      { code: 0, get: { key: "a", value: "1", found: true } },
      { code: statusCode.NOT_FOUND },
      { code: 0, delete: { key: "a", deleted: true } },
      { code: statusCode.INVALID_ARGUMENT },
      { code: statusCode.INVALID_ARGUMENT },
      { code: statusCode.INVALID_ARGUMENT },
      { code: 0, delete: { key: "a", deleted: false } },
    ]);
    expect((await batch.result).status).to.equal(Status.OK);
  });
});

describe("KeyValue unary methods beside the streaming ones", () => {
  it("answer as before", async () => {
    const { client } = kv();
    expect((await client.call("KeyValue", "Put", { key: "k", value: "v" })).response).to.deep.equal({ written: true });
    expect((await client.call("KeyValue", "Get", { key: "k" })).response).to.deep.equal({ key: "k", value: "v", found: true });
    const missing = await client.call("KeyValue", "Get", { key: "nope" });
    expect([missing.status, missing.response]).to.deep.equal([Status.NOT_FOUND, { key: "nope", found: false }]);
  });
});
