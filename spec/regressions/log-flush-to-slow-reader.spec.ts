// bin/node logs "stopped" and flushes its log sink before it exits. On a non-blocking stderr pipe
// (Node makes stderr non-blocking as soon as anything touches process.stderr) whose reader is
// slow, a synchronous flush meets EAGAIN: giving up on it loses the last lines, "stopped" among
// them, while the process exits 0. What the pipe will not take at once must go asynchronously.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const LOG_SINK = fileURLToPath(new URL("../../lib/logging/log-sink.js", import.meta.url));
/** Under the sink's 64 KiB batch: no write is in flight when flushSync() runs. */
const LINES = 500;
/** Longer than the second of EAGAIN retries a flush at process exit allows before giving up. */
const READER_WAITS_MS = 1500;

/**
 * A process that fills its stderr pipe (up to 20 writes of 8 KiB filler lines, stopping at the
 * first EAGAIN: the pipe is full), then writes LINES lines through a LogSink, flushes it while
 * no write is in flight, and ends by itself.
 */
const CHILD = `
  process.stderr; // as bin/node does: Node makes the pipe non-blocking from here on
  const NL = String.fromCharCode(10);
  const { writeSync } = await import("node:fs");
  const filler = ("filler" + NL).repeat(1024);
  for (let i = 0; i < 20; i++) {
    try { writeSync(2, filler); } catch (error) { if (error.code === "EAGAIN") break; throw error; }
  }
  const { LogSink } = await import(${JSON.stringify(LOG_SINK)});
  const sink = new LogSink({ destination: 2 });
  for (let i = 0; i < ${LINES}; i++) sink.write(String(i).padStart(6, "0") + " " + "x".repeat(92) + NL);
  sink.write("last" + NL);
  sink.flushSync();
`;

describe("a log flush to a slow reader", function () {
  this.timeout(20_000);

  it("loses no line: what the pipe will not take at once is written asynchronously, and the process waits for it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "log-flush-"));
    try {
      const script = join(dir, "child.mjs");
      writeFileSync(script, CHILD);
      // The shell's pipe is the child's stderr; its reader starts READER_WAITS_MS late.
      const pipeline = `"${process.execPath}" "${script}" 2>&1 >/dev/null | (sleep ${READER_WAITS_MS / 1000}; cat)`;
      const shell = spawn("sh", ["-c", pipeline], { stdio: ["ignore", "pipe", "inherit"] });
      const chunks: Buffer[] = [];
      shell.stdout.on("data", (chunk: Buffer) => chunks.push(chunk));
      const [code] = (await once(shell, "close")) as [number];
      const lines = Buffer.concat(chunks).toString("utf8").trimEnd().split("\n").filter((line) => line !== "filler");
      expect(code).to.equal(0);
      expect(lines).to.have.length(LINES + 1);
      expect(lines.at(-1)).to.equal("last");
      expect(lines.slice(0, LINES).every((line, i) => line.startsWith(`${String(i).padStart(6, "0")} `))).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
