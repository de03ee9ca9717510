import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { nodesKilledAfterEach } from "../support/node-process.js";
import { call, init, parseReply } from "../support/messages.js";

// A supervisor that closes stdin and then sends SIGTERM: the end of input had started the clean
// stop, and the SIGTERM counted as the second signal, so the node exited 143 and dropped the
// replies not yet written. Only a second signal forces the exit.

/** A Put of a 64 KiB value, then `CALLS` Gets of it: little to read, megabytes to write. */
const CALLS = 300;
const INPUT = [
  call({ msgId: 2, method: "Put", request: { key: "big", value: "v".repeat(65_536) } }),
  ...Array.from({ length: CALLS }, (_, i) => call({ msgId: i + 3, src: `c${i % 50}`, request: { key: "big" } })),
];

describe("regression: end of input, then one SIGTERM, counted as the second signal (exit 143, replies lost)", function () {
  this.timeout(30_000);
  const start = nodesKilledAfterEach();

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`end of input then ${signal} while replies cannot be written yet: every call answered, exit 0`, async () => {
      const node = start({ RATE_LIMIT_CAPACITY: "1000000", LOG_LEVEL: "info" });
      node.writeLines([init()]);
      await node.waitForLines(1); // started: its signal handlers are in place
      node.pauseOutput(true); // a slow reader: the clean stop is still writing when the signal comes
      node.writeLines(INPUT);
      node.end();
      await sleep(500);
      expect(node.closed, "still writing its replies").to.equal(false);
      node.kill(signal);
      await sleep(200);
      node.pauseOutput(false);
      expect(await node.exited(20_000)).to.deep.equal({ code: 0, signal: null });
      const replies = node.lines.map(parseReply);
      expect(replies).to.have.length(CALLS + 2);
      replies.forEach((reply, i) => expect(reply.body.in_reply_to).to.equal(i + 1));
      expect(node.logRecords.find((r) => r["msg"] === "stopped")).to.deep.include({ reason: "end of input", calls: CALLS + 1 });
      expect(node.logRecords.filter((r) => String(r["msg"]).startsWith("second signal"))).to.deep.equal([]);
    });
  }

  it("end of input, then two signals: the second forces the exit", async () => {
    const node = start({ RATE_LIMIT_CAPACITY: "1000000", LOG_LEVEL: "info" });
    node.writeLines([init()]);
    await node.waitForLines(1);
    node.pauseOutput(true);
    node.writeLines(INPUT);
    node.end();
    await sleep(500);
    node.kill("SIGTERM");
    await sleep(200);
    node.kill("SIGINT");
    await sleep(200);
    node.pauseOutput(false);
    expect(await node.exited(5000)).to.deep.equal({ code: 130, signal: null });
  });
});
