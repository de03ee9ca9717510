import { expect } from "chai";
import { type Body, Outbox, type OutboxOptions } from "../../../lib/hosts/stdio/outbox.js";

/** A promise settled from outside: work that finishes when the spec says so. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve: () => void = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** An outbox writing into an array of chunks. */
function outbox(options: Partial<OutboxOptions> = {}): { box: Outbox; chunks: string[]; lines: () => string[] } {
  const chunks: string[] = [];
  const box = new Outbox({ write: (chunk) => (chunks.push(chunk), true), ...options });
  return { box, chunks, lines: () => chunks.join("").split("\n").filter((l) => l !== "") };
}

const ok = (type: string) => (_: unknown, inReplyTo: unknown): Body => ({ type, in_reply_to: inReplyTo });

describe("Outbox.push()", () => {
  it("takes a body already serialised from a render, with the msg_id it was given, and spends no id on one that renders nothing", async () => {
    const { box, lines } = outbox();
    const text = (_: unknown, inReplyTo: unknown, msgId: number): string => `{"type": "t_ok", "in_reply_to": ${String(inReplyTo)}, "msg_id": ${msgId}}`;
    box.push("n1", "c1", 1, undefined, ok("a_ok"));
    box.push("n1", "c2", 2, undefined, () => undefined);
    box.push("n1", "c3", 3, undefined, text);
    box.push("n1", "c4", 4, undefined, ok("b_ok"));
    await box.whenIdle();
    expect(lines()).to.deep.equal([
      '{"src": "n1", "dest": "c1", "body": {"type": "a_ok", "in_reply_to": 1, "msg_id": 0}}',
      '{"src": "n1", "dest": "c3", "body": {"type": "t_ok", "in_reply_to": 3, "msg_id": 1}}',
      '{"src": "n1", "dest": "c4", "body": {"type": "b_ok", "in_reply_to": 4, "msg_id": 2}}',
    ]);
  });

  it("writes replies in arrival order when their work settles out of order", async () => {
    const { box, lines } = outbox();
    const work = [deferred(), deferred(), deferred()];
    work.forEach((w, i) => box.push("n1", "c1", i + 1, undefined, ok("x_ok"), w.promise));
    work[2]?.resolve();
    work[1]?.resolve();
    await new Promise((r) => setImmediate(r));
    expect(lines(), "nothing may overtake the first reply").to.deep.equal([]);
    expect(box.pending).to.equal(3);
    work[0]?.resolve();
    await box.whenIdle();
    expect(lines().map((l) => (JSON.parse(l) as { body: { in_reply_to: number } }).body.in_reply_to)).to.deep.equal([1, 2, 3]);
    expect(box.pending).to.equal(0);
  });

  it("numbers replies 0, 1, 2, ... in output order, msg_id the last key, in Python's json.dumps form", async () => {
    const { box, lines } = outbox();
    const slow = deferred();
    box.push("n1", "c1", 7, undefined, ok("a_ok"), slow.promise);
    box.push("n1", "c2", 8, undefined, ok("b_ok"));
    box.push("n1", "c\u00e9", 9, undefined, ok("c_ok"));
    slow.resolve();
    await box.whenIdle();
    expect(lines()).to.deep.equal([
      '{"src": "n1", "dest": "c1", "body": {"type": "a_ok", "in_reply_to": 7, "msg_id": 0}}',
      '{"src": "n1", "dest": "c2", "body": {"type": "b_ok", "in_reply_to": 8, "msg_id": 1}}',
      '{"src": "n1", "dest": "c\\u00e9", "body": {"type": "c_ok", "in_reply_to": 9, "msg_id": 2}}',
    ]);
  });

  it("renders at write time, with the value and in_reply_to it was given", async () => {
    const { box, lines } = outbox();
    const state = { count: 0 };
    const work = deferred();
    box.push("n1", "c1", 1, state, (s, inReplyTo) => ({ type: "count_ok", in_reply_to: inReplyTo, count: s.count }), work.promise);
    state.count = 5;
    work.resolve();
    await box.whenIdle();
    expect(lines()).to.deep.equal(['{"src": "n1", "dest": "c1", "body": {"type": "count_ok", "in_reply_to": 1, "count": 5, "msg_id": 0}}']);
  });

  it("writes nothing for a render that returns undefined, and spends no msg_id on it", async () => {
    const { box, lines } = outbox();
    box.push("n1", "c1", 1, undefined, ok("a_ok"));
    box.push("n1", "c1", undefined, undefined, () => undefined, Promise.resolve());
    box.push("n1", "c1", 3, undefined, ok("c_ok"));
    await box.whenIdle();
    expect(lines().map((l) => (JSON.parse(l) as { body: { msg_id: number; in_reply_to: number } }).body)).to.deep.equal([
      { type: "a_ok", in_reply_to: 1, msg_id: 0 },
      { type: "c_ok", in_reply_to: 3, msg_id: 1 },
    ]);
  });

  it("lets a reply out when its work rejects, instead of stalling every reply after it", async () => {
    const { box, lines } = outbox();
    box.push("n1", "c1", 1, undefined, ok("a_ok"), Promise.reject(new Error("work failed")));
    box.push("n1", "c1", 2, undefined, ok("b_ok"));
    const stalled = new Promise((resolve) => setTimeout(resolve, 200, "stalled"));
    expect(await Promise.race([box.whenIdle().then(() => "idle"), stalled])).to.equal("idle");
    expect(lines().map((l) => (JSON.parse(l) as { body: { type: string } }).body.type)).to.deep.equal(["a_ok", "b_ok"]);
  });

  it("batches the replies ready in one turn into one write", async () => {
    const { box, chunks } = outbox();
    for (let i = 0; i < 50; i++) box.push("n1", "c1", i, undefined, ok("x_ok"));
    expect(chunks, "nothing written synchronously").to.deep.equal([]);
    await box.whenIdle();
    expect(chunks).to.have.length(1);
    expect(chunks[0]?.split("\n")).to.have.length(51);
  });

  it("writes before the end of the turn once batchBytes are pending", () => {
    const { box, chunks } = outbox({ batchBytes: 200 });
    for (let i = 0; i < 10; i++) box.push("n1", "c1", i, undefined, ok("x_ok"));
    expect(chunks.length).to.be.greaterThan(0);
    for (const chunk of chunks) expect(chunk.length).to.be.lessThan(400);
  });

  it("reports congestion when the destination refuses a write", async () => {
    const { box } = outbox({ write: () => false });
    box.push("n1", "c1", 1, undefined, ok("x_ok"));
    await box.whenIdle();
    expect(box.congested).to.equal(true);
  });
});

describe("Outbox onError", () => {
  it("leaves out a reply whose render throws, spends no msg_id on it, and writes the ones after it", async () => {
    const errors: unknown[] = [];
    const { box, lines } = outbox({ onError: (error, inReplyTo) => void errors.push([String(error), inReplyTo]) });
    box.push("n1", "c1", 1, undefined, ok("a_ok"));
    box.push("n1", "c1", 2, undefined, () => {
      throw new Error("render failed");
    });
    box.push("n1", "c1", 3, undefined, ok("c_ok"));
    await box.whenIdle();
    box.push("n1", "c1", 4, undefined, ok("d_ok"));
    await box.whenIdle();
    expect(lines().map((l) => JSON.parse(l) as { body: { in_reply_to: number; msg_id: number } }).map((r) => [r.body.in_reply_to, r.body.msg_id])).to.deep.equal([
      [1, 0],
      [3, 1],
      [4, 2],
    ]);
    expect(errors).to.deep.equal([["Error: render failed", 2]]);
    expect(box.pending).to.equal(0);
  });

  it("leaves out a reply too deeply nested to serialise (a stack overflow), not every reply after it", async () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = [deep];
    const errors: unknown[] = [];
    const { box, lines } = outbox({ onError: (error) => void errors.push(error) });
    box.push("n1", "c1", 1, undefined, (_, inReplyTo) => ({ type: "x_ok", in_reply_to: inReplyTo, response: deep }));
    box.push("n1", "c1", 2, undefined, ok("y_ok"));
    await box.whenIdle();
    expect(lines()).to.deep.equal(['{"src": "n1", "dest": "c1", "body": {"type": "y_ok", "in_reply_to": 2, "msg_id": 0}}']);
    expect(errors).to.have.length(1);
    expect(errors[0]).to.be.instanceOf(RangeError);
  });
});

describe("Outbox.whenPendingAtMost()", () => {
  it("calls the listener once, when the replies pending drop to the count, not before", async () => {
    const { box } = outbox();
    const work = [deferred(), deferred(), deferred(), deferred()];
    work.forEach((w, i) => box.push("n1", "c1", i, undefined, ok("x_ok"), w.promise));
    const seen: number[] = [];
    box.whenPendingAtMost(2, () => seen.push(box.pending));
    work[0]?.resolve();
    await new Promise((r) => setImmediate(r));
    expect(seen).to.deep.equal([]);
    work[1]?.resolve();
    await new Promise((r) => setImmediate(r));
    expect(seen).to.deep.equal([2]);
    work[2]?.resolve();
    work[3]?.resolve();
    await box.whenIdle();
    expect(seen, "once only").to.deep.equal([2]);
  });

  it("calls it at once when no more are pending already", () => {
    const { box } = outbox();
    let called = 0;
    box.whenPendingAtMost(0, () => called++);
    expect(called).to.equal(1);
  });
});

describe("Outbox.resumeWriting() and flush()", () => {
  it("resumeWriting() clears congestion even with nothing left to write", async () => {
    let accept = false;
    const { box } = outbox({ write: () => accept });
    box.push("n1", "c1", 1, undefined, ok("x_ok"));
    await box.whenIdle();
    expect(box.congested).to.equal(true);
    accept = true;
    box.flush(); // a turn's flush finding nothing to write says nothing about the destination
    expect(box.congested).to.equal(true);
    box.resumeWriting(); // what bin/node calls on stdout's 'drain'
    expect(box.congested).to.equal(false);
  });

  it("stays congested when the write it makes is refused again", () => {
    const { box, chunks } = outbox({ write: (chunk) => (chunks.push(chunk), false) });
    box.push("n1", "c1", 1, undefined, ok("x_ok"));
    box.flush();
    expect(chunks).to.have.length(1);
    expect(box.congested).to.equal(true);
  });
});

describe("Outbox.whenIdle()", () => {
  it("resolves at once when nothing is pending", async () => {
    const { box } = outbox();
    await box.whenIdle();
    expect(box.pending).to.equal(0);
  });

  it("resolves only once every reserved reply has been written", async () => {
    const { box, lines } = outbox();
    const work = deferred();
    box.push("n1", "c1", 1, undefined, ok("x_ok"), work.promise);
    let idle = false;
    const waiting = box.whenIdle().then(() => (idle = true));
    await new Promise((r) => setImmediate(r));
    expect(idle).to.equal(false);
    work.resolve();
    await waiting;
    expect(lines()).to.have.length(1);
  });

  it("resolves when the only pending replies render to nothing", async () => {
    const { box, chunks } = outbox();
    box.push("n1", "c1", undefined, undefined, () => undefined, Promise.resolve());
    await box.whenIdle();
    expect(chunks.join("")).to.equal("");
  });
});
