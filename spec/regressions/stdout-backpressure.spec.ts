import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Outbox } from "../../lib/hosts/stdio/outbox.js";

// Regressions in bin/node's flow control on stdout:
// 1. A 'drain' that found the outbox buffer empty left `congested` set, so bin/node kept stdin
//    paused for good and hung after a few hundred replies whenever stdout was a fast pipe.
// 2. The first fix cleared `congested` in any flush(), including a turn's flush that found the
//    buffer empty while stdout was still backed up, so bin/node read on regardless: on a slow
//    pipe it buffered gigabytes.

const BIN_NODE = fileURLToPath(new URL("../../../bin/node", import.meta.url));

describe("regression: stdout drains while the outbox buffer is empty (bin/node hung)", () => {
  it("Outbox.resumeWriting() clears congestion when there is nothing left to write", () => {
    const outbox = new Outbox({ write: () => false });
    outbox.push("n1", "c1", 1, undefined, () => ({ type: "x" }));
    outbox.flush();
    expect(outbox.congested).to.equal(true);
    outbox.resumeWriting();
    expect(outbox.congested).to.equal(false);
  });

  it("bin/node answers every call of a long burst on a stdout pipe", async function () {
    this.timeout(30_000);
    // The shape of ../shared/bench/gen.js: 1,000 clients, 5,000 keys, half Put, half Get.
    const calls = 50_000;
    const lines = [JSON.stringify({ src: "c0", dest: "n1", body: { type: "init", msg_id: 1, node_id: "n1", node_ids: ["n1"] } })];
    for (let i = 0; i < calls; i++) {
      const put = i % 2 === 0;
      const key = `k${i % 5000}`;
      const request = put ? { key, value: `v${i}` } : { key };
      lines.push(JSON.stringify({ src: `c${1 + (i % 1000)}`, dest: "n1", body: { type: "grpc_call", msg_id: i + 2, service: "KeyValue", method: put ? "Put" : "Get", request, metadata: { authorization: "Bearer valid_token" } } }));
    }
    // A real pipe (spawn's "pipe" is a socketpair with a larger buffer, which hid the bug), fed from
    // a file so that bin/node reads faster than the pipe drains, as with a test runner's replay.
    const dir = mkdtempSync(join(tmpdir(), "drain-"));
    writeFileSync(join(dir, "in.jsonl"), lines.join("\n") + "\n");
    const child = spawn("bash", ["-c", 'set -o pipefail; "$0" < "$1/in.jsonl" 2>/dev/null | wc -l', BIN_NODE, dir], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, RATE_LIMIT_CAPACITY: "1e9", RATE_LIMIT_REFILL_PER_SEC: "1e9" },
      detached: true,
    });
    let out = "";
    child.stdout?.on("data", (chunk: Buffer) => (out += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    // A hung node never exits: kill the whole group after a while and report what was printed.
    const timer = setTimeout(() => process.kill(-(child.pid as number), "SIGKILL"), 15_000);
    const code = await exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
    const newlines = Number(out.trim());
    expect({ code, newlines }).to.deep.equal({ code: 0, newlines: calls + 1 });
  });
});

describe("regression: a flush with nothing buffered ended congestion (bin/node read on while stdout was backed up)", () => {
  it("Outbox.flush() with nothing buffered leaves congestion as it is", () => {
    const outbox = new Outbox({ write: () => false });
    outbox.push("n1", "c1", 1, undefined, () => ({ type: "x" }));
    outbox.flush();
    outbox.flush();
    expect(outbox.congested).to.equal(true);
  });

  it("bin/node stops reading stdin while nobody reads its stdout", async function () {
    this.timeout(30_000);
    const calls = 100_000;
    const lines = [JSON.stringify({ src: "c0", dest: "n1", body: { type: "init", msg_id: 1, node_id: "n1", node_ids: ["n1"] } })];
    for (let i = 0; i < calls; i++) {
      lines.push(JSON.stringify({ src: `c${1 + (i % 1000)}`, dest: "n1", body: { type: "grpc_call", msg_id: i + 2, service: "KeyValue", method: "Put", request: { key: `k${i % 5000}`, value: `v${i}` }, metadata: { authorization: "Bearer valid_token" } } }));
    }
    const dir = mkdtempSync(join(tmpdir(), "backpressure-"));
    const input = join(dir, "in.jsonl");
    writeFileSync(input, lines.join("\n") + "\n");
    // stdout is a pipe nobody reads for the first 1.5 s; how far bin/node got into its stdin
    // file shows whether it paused.
    const child = spawn("bash", ["-c", 'exec "$0" < "$1" 2>/dev/null', BIN_NODE, input], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, RATE_LIMIT_CAPACITY: "1e9", RATE_LIMIT_REFILL_PER_SEC: "1e9" } });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const position = Number(/pos:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/fdinfo/0`, "utf8"))?.[1]);
    let newlines = 0;
    child.stdout?.on("data", (chunk: Buffer) => {
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) newlines++;
    });
    const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
    rmSync(dir, { recursive: true, force: true });
    expect(position, "bytes of stdin read while stdout was not read").to.be.below(4 * 1024 * 1024);
    expect({ code, newlines }).to.deep.equal({ code: 0, newlines: calls + 1 });
  });
});
