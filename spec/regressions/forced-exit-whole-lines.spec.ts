import { expect } from "chai";
import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { BIN_NODE, ROOT, NodeProcess, nodesKilledAfterEach } from "../support/node-process.js";
import { call, init } from "../support/messages.js";

// A second signal exits at once. Node writes to a pipe or socket asynchronously: a write the
// kernel takes only part of leaves the rest queued in the process, and process.exit() dropped it,
// so the reader was left with half a line, mid-JSON (1 trial in 4 with two quick SIGTERMs; nearly
// always with a reader that had stopped reading).

/** Puts of `bytes`-long values to keys k0..k{count-1}, then a Get of each, again and again. */
function calls(count: number, bytes: (i: number) => number, repeat: number): string[] {
  const lines = [init()];
  let msgId = 2;
  for (let i = 0; i < count; i++) lines.push(call({ msgId: msgId++, method: "Put", request: { key: `k${i}`, value: "v".repeat(bytes(i)) } }));
  for (let r = 0; r < repeat; r++) for (let i = 0; i < count; i++) lines.push(call({ msgId: msgId++, src: `c${i % 40}`, request: { key: `k${i}` } }));
  return lines;
}

/** Whether `text` is whole lines of JSON: empty, or ending in a newline with every line parsing. */
function wholeLines(text: string): { readonly whole: boolean; readonly lines: number; readonly tail: string } {
  const lines = text.split("\n");
  const last = lines.pop();
  const parsed = lines.every((line) => {
    try {
      JSON.parse(line);
      return true;
    } catch {
      return false;
    }
  });
  return { whole: last === "" && parsed, lines: lines.length, tail: text.slice(-120) };
}

const ENV = { RATE_LIMIT_CAPACITY: "1000000000", RATE_LIMIT_REFILL_PER_SEC: "1000000000", LOG_LEVEL: "warn" };

describe("regression: a forced exit tore the last stdout line (bin/node ended its output mid-JSON)", function () {
  this.timeout(60_000);
  const start = nodesKilledAfterEach();

  it("leaves whole lines on a Unix socket (spawn's stdout) whose reader stopped reading", async () => {
    const node = start(ENV);
    node.writeLines([init()]);
    await node.waitForLines(1); // started: its signal handlers are in place
    node.pauseOutput(true);
    void node.writeLinesPaced(calls(500, (i) => 200 + ((i * 37) % 3000), 20).slice(1)).catch(() => {});
    await sleep(800);
    node.kill("SIGTERM");
    await sleep(100);
    node.kill("SIGTERM");
    await sleep(300);
    node.pauseOutput(false);
    expect((await node.exited(5000)).code).to.equal(143);
    const result = wholeLines(node.stdout);
    expect(result.lines, "lines written before the exit").to.be.above(10);
    expect(result, "stdout ends after a whole line").to.include({ whole: true });
  });

  it("leaves whole lines on a pipe whose reader stopped reading", async () => {
    const dir = mkdtempSync(join(tmpdir(), "torn-"));
    try {
      const input = join(dir, "in.jsonl");
      writeFileSync(input, calls(500, (i) => 200 + ((i * 37) % 3000), 20).join("\n") + "\n");
      const fifo = join(dir, "out");
      execFileSync("mkfifo", [fifo]);
      // Our read end first (non-blocking, so opening it does not wait for a writer), then the node's write end.
      const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
      const writeEnd = openSync(fifo, "w");
      const inputFd = openSync(input, "r");
      const child = spawn(BIN_NODE, [], { cwd: ROOT, env: { ...process.env, ...ENV }, stdio: [inputFd, writeEnd, "ignore"] });
      closeSync(writeEnd);
      closeSync(inputFd);
      const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
      const chunks: Buffer[] = [];
      const buffer = Buffer.alloc(65_536);
      // The first bytes say it has started (its signal handlers are in place); then nobody reads.
      for (const until = Date.now() + 10_000; chunks.length === 0 && Date.now() < until; await sleep(20)) {
        try {
          const n = readSync(readEnd, buffer);
          if (n > 0) chunks.push(Buffer.from(buffer.subarray(0, n)));
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EAGAIN") throw error;
        }
      }
      await sleep(500);
      child.kill("SIGTERM");
      await sleep(100);
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      const code = await exited;
      clearTimeout(timer);
      for (let n = readSync(readEnd, buffer); n > 0; n = readSync(readEnd, buffer)) chunks.push(Buffer.from(buffer.subarray(0, n)));
      closeSync(readEnd);
      expect(code).to.equal(143);
      const result = wholeLines(Buffer.concat(chunks).toString("utf8"));
      expect(result.lines, "lines written before the exit").to.be.above(10);
      expect(result, "the pipe ends after a whole line").to.include({ whole: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("leaves whole lines, long ones (over 4 KiB) included, when two quick SIGTERMs stop a node whose reader keeps reading", async () => {
    const input = calls(300, (i) => 100 + ((i * 53) % 9000), 40);
    let forced = 0;
    for (let trial = 0; trial < 6; trial++) {
      const node = NodeProcess.start({ env: ENV });
      void node.writeLinesPaced(input).catch(() => {});
      await node.waitForLines(1);
      await sleep(50 + trial * 50); // a different moment of the output each trial
      node.kill("SIGTERM");
      await sleep(5); // two signals sent together may arrive as one
      node.kill("SIGTERM");
      // 143 when the second signal forced the exit; a node that had finished its clean stop
      // by then exits 0, or is ended by the signal's default action while it exits.
      const exit = await node.exited(5000);
      if (exit.code === 143) forced++;
      const result = wholeLines(node.stdout);
      expect(result, `trial ${trial} (exit ${JSON.stringify(exit)}): stdout ends after a whole line`).to.include({ whole: true });
    }
    expect(forced, "trials ended by the second signal").to.be.above(2);
  });
});
