import { expect } from "chai";
import { Outbox } from "../../../lib/hosts/stdio/outbox.js";
import { RequestQueue } from "../../../lib/hosts/stdio/request-queue.js";

const body = (type: string) => (msgId: number): string => `{"type": "${type}", "msg_id": ${msgId}}`;

describe("Outbox.sendNow()", () => {
  it("writes at once, past a reply still waiting for its work, on the same msg_id counter", async () => {
    const chunks: string[] = [];
    const outbox = new Outbox({ write: (chunk) => (chunks.push(chunk), true) });
    let finish!: () => void;
    outbox.push("n1", "c1", 1, undefined, () => ({ type: "slow_ok" }), new Promise<void>((resolve) => (finish = resolve)));
    expect(outbox.sendNow("n1", "c1", body("grpc_stream_msg"))).to.equal(undefined);
    outbox.sendNow("n1", "c1", body("grpc_stream_close"));
    finish();
    await outbox.whenIdle();
    expect(chunks.join("").trim().split("\n")).to.deep.equal([
      '{"src": "n1", "dest": "c1", "body": {"type": "grpc_stream_msg", "msg_id": 0}}',
      '{"src": "n1", "dest": "c1", "body": {"type": "grpc_stream_close", "msg_id": 1}}',
      '{"src": "n1", "dest": "c1", "body": {"type": "slow_ok", "msg_id": 2}}',
    ]);
  });

  it("while the destination is congested, returns a promise that resolves at resumeWriting()", async () => {
    let writable = false;
    const outbox = new Outbox({ write: () => writable, batchBytes: 10 });
    const wait = outbox.sendNow("n1", "c1", body("grpc_stream_msg"));
    expect(wait, "the batch was written and refused").to.be.instanceOf(Promise);
    let resolved = false;
    void wait?.then(() => (resolved = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(resolved).to.equal(false);
    writable = true;
    outbox.resumeWriting();
    await wait;
  });

  it("after writing a batch, makes the writer wait one turn of the event loop", async () => {
    const outbox = new Outbox({ write: () => true, batchBytes: 10 });
    const wait = outbox.sendNow("n1", "c1", body("grpc_stream_msg"));
    expect(wait).to.be.instanceOf(Promise);
    await wait;
  });
});

describe("Outbox.hold()", () => {
  it("counts in pending and calls the whenPendingAtMost() listener when released", () => {
    const outbox = new Outbox({ write: () => true });
    outbox.hold(3);
    expect(outbox.pending).to.equal(3);
    let called = 0;
    outbox.whenPendingAtMost(1, () => called++);
    outbox.hold(-1);
    expect(called).to.equal(0);
    outbox.hold(-2);
    expect(called).to.equal(1);
  });
});

describe("RequestQueue", () => {
  it("hands messages in order, ends at end(), refuses past its limit, and reports what waits", async () => {
    const counted: number[] = [];
    const queue = new RequestQueue(2, (delta) => counted.push(delta));
    expect([queue.push("a"), queue.push("b"), queue.push("c")]).to.deep.equal([true, true, false]);
    queue.end();
    const seen: unknown[] = [];
    for await (const message of queue) seen.push(message);
    expect(seen).to.deep.equal(["a", "b"]);
    expect(counted).to.deep.equal([1, 1, -1, -1]);
    expect(queue.push("d"), "after the end").to.equal(false);
  });

  it("close() releases what waits unread", () => {
    let held = 0;
    const queue = new RequestQueue(10, (delta) => (held += delta));
    queue.push(1);
    queue.push(2);
    queue.close();
    expect(held).to.equal(0);
    expect(queue.ended).to.equal(true);
  });
});
