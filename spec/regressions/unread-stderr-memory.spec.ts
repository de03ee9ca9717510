// A supervisor that never reads bin/node's stderr (a common one) must not make the node grow
// with every call: what this pins is the LogSink's bound, lines beyond it dropped and counted.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { BIN_NODE } from "../support/node-process.js";

const CALLS = 300_000;
/** Peak RSS allowed, in MiB: the node with its stderr drained peaks near 100 MiB on this workload. */
const MAX_RSS_MIB = 160;

/** The resident set of process `pid` in MiB, or 0 once it is gone. */
function rssMib(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

describe("regression: bin/node with an unread stderr pipe", function () {
  this.timeout(60_000);
  before(function () {
    if (process.platform !== "linux") this.skip(); // reads /proc
  });

  it(`stays under ${MAX_RSS_MIB} MiB over ${CALLS.toLocaleString("en")} logged calls, and reports the lines it dropped`, async () => {
    const env = { PATH: process.env["PATH"] ?? "", LOG_LEVEL: "info", RATE_LIMIT_CAPACITY: "1000000000", RATE_LIMIT_REFILL_PER_SEC: "1000000000" };
    const child = spawn(process.execPath, [BIN_NODE], { env, stdio: ["pipe", "pipe", "pipe"] });
    // stderr is neither read nor resumed until the end: the pipe fills and stays full.
    let replies = 0;
    child.stdout.on("data", (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) replies++;
    });
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMib(child.pid!))), 100);
    try {
      const line = (i: number) =>
        `{"src":"c${i % 100}","dest":"n1","body":{"type":"grpc_call","msg_id":${i + 2},"service":"KeyValue","method":"Put","request":{"key":"k${i % 1000}","value":"v${i}"},"metadata":{"authorization":"Bearer valid_token"}}}\n`;
      child.stdin.write(`{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}\n`);
      for (let i = 0; i < CALLS; i += 1000) {
        let chunk = "";
        for (let j = i; j < i + 1000; j++) chunk += line(j);
        if (!child.stdin.write(chunk)) await once(child.stdin, "drain");
      }
      child.stdin.end();
      const deadline = Date.now() + 40_000;
      while (replies < CALLS + 1 && Date.now() < deadline && peak < 4 * MAX_RSS_MIB) await new Promise((resolve) => setTimeout(resolve, 50));
      peak = Math.max(peak, rssMib(child.pid!));
    } finally {
      clearInterval(sampler);
      if (replies < CALLS + 1 || peak >= MAX_RSS_MIB) child.kill("SIGKILL");
    }
    expect(peak, "peak RSS in MiB").to.be.below(MAX_RSS_MIB);
    expect(replies).to.equal(CALLS + 1);
    // Read stderr at last: the node writes what it kept, says how many lines it dropped, and exits 0.
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    const [code] = (await once(child, "exit")) as [number | null];
    expect(code).to.equal(0);
    const dropped = stderr.split("\n").filter((l) => l.includes('"dropped"')).map((l) => (JSON.parse(l) as { dropped: number }).dropped);
    expect(dropped.length, "dropped-lines reports").to.be.greaterThan(0);
    const kept = stderr.split("\n").filter((l) => l.includes('"msg":"call"')).length;
    expect(kept + dropped.reduce((a, b) => a + b, 0), "every call line written or counted").to.be.at.least(CALLS);
  });
});
