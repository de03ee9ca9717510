import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { NodeProcess, nodesKilledAfterEach } from "../support/node-process.js";
import { call, init, parseReply } from "../support/messages.js";

// Flow control of the real bin/node: a reader that stops reading stdout makes the node
// stop reading stdin, with memory and CPU bounded; a reader that closes stdout stops it cleanly.
// On Linux, Node's process.stdout on a pipe writes asynchronously: write() never blocks, it
// queues in the process and returns false past the high-water mark. Nothing but the node's own
// pausing of stdin bounds what it holds.

const CALLS = 200_000;
const LOAD = { RATE_LIMIT_CAPACITY: "1000000000", LOG_LEVEL: "warn" };

function calls(count: number): string[] {
  const lines = [init()];
  for (let i = 0; i < count; i++) lines.push(call({ msgId: i + 2, method: "Put", request: { key: `k${i % 1000}`, value: `v${i}` } }));
  return lines;
}

describe("bin/node flow control (end to end)", function () {
  this.timeout(60_000);
  const start = nodesKilledAfterEach();

  it(`stops reading stdin while stdout is not read: of ${CALLS.toLocaleString("en")} calls it takes a bounded part, holds memory flat, burns no CPU, then answers all`, async () => {
    const node = start(LOAD);
    node.writeLines([init()]);
    await node.waitForLines(1);
    const input = calls(CALLS).slice(1);
    const total = input.reduce((bytes, line) => bytes + Buffer.byteLength(line) + 1, 0);
    const lineBytes = total / input.length;
    node.pauseOutput(true);
    const written = node.writeLinesPaced(input);
    await sleep(2000);
    const taken = total - node.inputBacklog;
    const before = node.memory();
    const cpuBefore = node.cpuMs();
    await sleep(1000);
    const cpuIdle = node.cpuMs() - cpuBefore;
    const after = node.memory();
    const takenAfter = total - node.inputBacklog;
    // Reported so the numbers can be read off a run.
    process.stdout.write(
      `      (paused: took ${(taken / 2 ** 20).toFixed(1)} of ${(total / 2 ** 20).toFixed(1)} MiB (${Math.round(taken / lineBytes)} calls), ` +
        `RSS ${before.rssMiB.toFixed(0)} -> ${after.rssMiB.toFixed(0)} MiB, CPU ${cpuIdle} ms in 1 s)\n`,
    );
    // MAX_IN_FLIGHT (10,000) calls, one 64 KiB read and the pipes' 64 KiB each way, with room.
    expect(taken, "bytes of input the node took while stdout was not read").to.be.below(10_000 * lineBytes + 4 * 2 ** 20);
    expect(takenAfter, "it went on reading while stdout was not read").to.equal(taken);
    expect(after.rssMiB, "RSS while paused").to.be.below(150);
    expect(cpuIdle, "CPU ms used in 1 s of waiting (a setImmediate poll burns ~1000)").to.be.below(100);
    node.pauseOutput(false);
    await written;
    node.end();
    expect((await node.exited(30_000)).code).to.equal(0);
    const lines = node.lines;
    expect(lines).to.have.length(CALLS + 1);
    for (let i = 0; i < lines.length; i += 997) expect(parseReply(lines[i] ?? "").body.msg_id).to.equal(i);
    expect(parseReply(lines.at(-1) ?? "").body).to.deep.include({ in_reply_to: CALLS + 1, status: "OK", msg_id: CALLS });
  });

  it("resumes from the outbox's low-water mark, not a poll, when MAX_IN_FLIGHT is what pauses it", async () => {
    const node = start({ ...LOAD, MAX_IN_FLIGHT: "4" });
    node.writeLines(calls(20_000));
    node.end();
    expect((await node.exited(30_000)).code).to.equal(0);
    expect(node.lines).to.have.length(20_001);
    node.lines.forEach((line, i) => {
      if (i % 1999 === 0) expect(parseReply(line).body.msg_id).to.equal(i);
    });
  });

  it("exits 0 with one log line, no stack trace, when the reader closes stdout (EPIPE)", async () => {
    const node = start(LOAD);
    node.writeLines(calls(50_000));
    await node.waitForLines(100);
    node.closeOutput();
    const exit = await node.exited(10_000);
    expect(exit).to.deep.equal({ code: 0, signal: null });
    const lines = node.stderr.split("\n").filter((line) => line !== "");
    expect(lines, node.stderr.slice(0, 2000)).to.have.length(1);
    expect(JSON.parse(lines[0] ?? "{}")).to.deep.include({ level: 40, code: "EPIPE", msg: "stdout closed by the reader; stopping" });
    expect(node.stderr).not.to.match(/\n\s+at /);
  });
});
