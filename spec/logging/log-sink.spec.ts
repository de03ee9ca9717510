import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setImmediate as turn } from "node:timers/promises";
import { expect } from "chai";
import { LogSink } from "../../lib/logging/log-sink.js";

/** Resolves once the file holds `lines` lines, or after about two seconds. */
async function settledLines(file: string, lines: number): Promise<string[]> {
  for (let i = 0; i < 200; i++) {
    const text = readFileSync(file, "utf8");
    const got = text === "" ? [] : text.trimEnd().split("\n");
    if (got.length >= lines) return got;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return readFileSync(file, "utf8").trimEnd().split("\n");
}

describe("LogSink", () => {
  let dir = "";
  let file = "";
  let fd = -1;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "log-sink-spec-"));
    file = join(dir, "log.jsonl");
    fd = openSync(file, "w");
  });
  afterEach(() => {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes every line, in order, across batches, buffer swaps and lines too long for the buffer", async () => {
    // batchBytes 64: buffers of 128 bytes, so most turns swap buffers and long lines overflow.
    const sink = new LogSink({ destination: fd, batchBytes: 64 });
    const expected: string[] = [];
    for (let i = 0; i < 2000; i++) {
      const line = i % 97 === 0 ? `${i}:${"x".repeat(300 + i)}` : i % 31 === 0 ? `${i}:é€😀` : `${i}`;
      expected.push(line);
      sink.write(`${line}\n`);
      if (i % 150 === 0) await turn();
    }
    expect(await settledLines(file, expected.length)).to.deep.equal(expected);
  });

  it("flushSync() writes what is queued at once when no write is in flight", () => {
    const sink = new LogSink({ destination: fd });
    sink.write("a\n");
    sink.write("b\n");
    sink.flushSync();
    expect(readFileSync(file, "utf8")).to.equal("a\nb\n");
    sink.flushSync(); // nothing left: safe again
    expect(readFileSync(file, "utf8")).to.equal("a\nb\n");
  });

  it("keeps lines that wait as text behind the lines already encoded", async () => {
    const sink = new LogSink({ destination: fd, batchBytes: 16 });
    sink.write("first line of twenty\n"); // a full batch: written at once, the next ones wait
    sink.write(`${"y".repeat(40)}\n`); // no room in a 32-byte buffer: waits as text
    sink.write("short\n"); // fits, but must not pass the line above
    expect(await settledLines(file, 3)).to.deep.equal(["first line of twenty", "y".repeat(40), "short"]);
  });

  it("drops lines past maxPendingBytes behind a write in flight, and says how many in one line where they were", async () => {
    const sink = new LogSink({ destination: fd, batchBytes: 16, maxPendingBytes: 100 });
    sink.write("first line of twenty\n"); // a full batch: its write is in flight for the rest of this turn
    for (let i = 0; i < 50; i++) sink.write(`line ${String(i).padStart(2, "0")}\n`); // 8 bytes each: 12 fit in 100
    await settledLines(file, 13); // the write in flight, then the twelve kept, are out
    sink.write("after\n");
    const lines = await settledLines(file, 15);
    expect(lines.slice(0, 13)).to.deep.equal(["first line of twenty", ...Array.from({ length: 12 }, (_, i) => `line ${String(i).padStart(2, "0")}`)]);
    const notice = JSON.parse(lines[13]!) as { level: number; dropped: number; msg: string };
    expect(notice).to.include({ level: 40, dropped: 38, msg: "38 log lines dropped: the log destination did not take them fast enough" });
    expect(lines.slice(14)).to.deep.equal(["after"]);
  });

  it("maxDelayMs: lines of several turns wait to share one write; past batchBytes they go at once", async () => {
    const sink = new LogSink({ destination: fd, maxDelayMs: 1000, batchBytes: 64 });
    for (const line of ["a", "b", "c"]) {
      sink.write(`${line}\n`);
      await turn();
    }
    expect(readFileSync(file, "utf8")).to.equal("");
    expect(await settledLines(file, 3)).to.deep.equal(["a", "b", "c"]);
    sink.write(`${"z".repeat(70)}\n`); // a full batch: not held back
    expect(await settledLines(file, 4)).to.deep.equal(["a", "b", "c", "z".repeat(70)]);
  });

  it("maxDelayMs 0: what a turn logs is written at its end", async () => {
    const sink = new LogSink({ destination: fd, maxDelayMs: 0 });
    sink.write("a\n");
    sink.write("b\n");
    expect(readFileSync(file, "utf8")).to.equal("");
    expect(await settledLines(file, 2)).to.deep.equal(["a", "b"]);
  });

  it("refuses a batch size or a pending bound that is not a positive integer, and a negative delay", () => {
    expect(() => new LogSink({ destination: fd, batchBytes: 0 })).to.throw(RangeError, /batchBytes/);
    expect(() => new LogSink({ destination: fd, maxPendingBytes: 0.5 })).to.throw(RangeError, /maxPendingBytes/);
    expect(() => new LogSink({ destination: fd, maxDelayMs: -1 })).to.throw(RangeError, /maxDelayMs/);
  });
});
