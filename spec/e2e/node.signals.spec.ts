import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { NodeProcess, nodesKilledAfterEach } from "../support/node-process.js";
import { call, init, parseReply } from "../support/messages.js";
import { RedisServer, requireRedis } from "../support/redis-servers.js";

// Signals to the real bin/node. SIGTERM or SIGINT: stop reading, answer every call
// already read, flush, exit 0. A second signal: exit at once, 130 after SIGINT, 143 after
// SIGTERM (128 + the signal's number, the shell's convention), whatever is still unwritten.

const IN_FLIGHT = 10_000;

function callLines(count: number, firstMsgId: number): string[] {
  return Array.from({ length: count }, (_, i) => call({ msgId: firstMsgId + i, src: `c${i % 50}` }));
}

describe("bin/node signals (end to end)", function () {
  this.timeout(60_000);
  const start = nodesKilledAfterEach();

  describe(`with ${IN_FLIGHT.toLocaleString("en")} calls in flight (each waiting on a frozen Redis)`, () => {
    let redis: RedisServer;
    before(async function () {
      requireRedis(this);
      redis = await RedisServer.start();
    });
    after(async () => {
      redis?.freeze(false);
      await redis?.stop();
    });

    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      it(`on ${signal} answers every one of them, in order, and exits 0`, async () => {
        // Each call waits up to 3 s for Redis before the in-memory insurance bucket answers it.
        const node = start({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: "3000", RATE_LIMIT_CAPACITY: "1000000", LOG_LEVEL: "info" });
        node.writeLines([init(), call({ msgId: 2 })]);
        await node.waitForLines(2, 10_000);
        redis.freeze(true);
        try {
          await node.writeLinesPaced(callLines(IN_FLIGHT, 3));
          await sleep(300);
          expect(node.lines, "answered before the signal").to.have.length(2);
          node.kill(signal);
          const exit = await node.exited(20_000);
          expect(exit).to.deep.equal({ code: 0, signal: null });
        } finally {
          redis.freeze(false);
        }
        const replies = node.lines.map(parseReply);
        expect(replies).to.have.length(IN_FLIGHT + 2);
        replies.forEach((reply, i) => {
          expect(reply.body.msg_id).to.equal(i);
          expect(reply.body.in_reply_to).to.equal(i + 1);
        });
        expect(new Set(replies.slice(2).map((r) => r.body["status"]))).to.deep.equal(new Set(["NOT_FOUND"]));
        const stopped = node.logRecords.find((r) => r["msg"] === "stopped");
        expect(stopped).to.deep.include({ reason: signal, lines: IN_FLIGHT + 2 });
      });
    }
  });

  describe("a second signal", () => {
    for (const [first, second, code] of [
      ["SIGTERM", "SIGINT", 130],
      ["SIGINT", "SIGTERM", 143],
      ["SIGTERM", "SIGTERM", 143],
    ] as const) {
      it(`${first} then ${second} while replies cannot be written: exits at once with ${code}, saying so once`, async () => {
        const node = start({ RATE_LIMIT_CAPACITY: "1000000", LOG_LEVEL: "warn" });
        node.writeLines([init()]);
        await node.waitForLines(1);
        node.pauseOutput(true);
        void node.writeLinesPaced(callLines(20_000, 2)).catch(() => {});
        await sleep(500);
        node.kill(first);
        await sleep(300);
        expect(node.closed, "the first signal waits for the replies to be written").to.equal(false);
        const sent = Date.now();
        node.kill(second);
        const exit = await node.exited(5000);
        expect(Date.now() - sent, "ms from the second signal to the exit").to.be.below(2000);
        expect(exit).to.deep.equal({ code, signal: null });
        const forced = node.logRecords.filter((r) => r["msg"] === "second signal; exiting now, replies not yet written are lost");
        expect(forced.map((r) => r["signal"])).to.deep.equal([second]);
      });
    }
  });
});
