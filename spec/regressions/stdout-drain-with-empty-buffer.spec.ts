import { expect } from "chai";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Outbox } from "../../lib/outbox.js";

// Regression: a 'drain' that found the outbox buffer empty left `congested` set, so bin/node kept
// stdin paused for good and hung after a few hundred replies whenever stdout was a fast pipe.

const BIN_NODE = fileURLToPath(new URL("../../../bin/node", import.meta.url));

describe("regression: stdout drains while the outbox buffer is empty", () => {
  it("Outbox.flush() clears congestion when there is nothing left to write", () => {
    let accept = false;
    const outbox = new Outbox({ write: () => accept });
    outbox.push("n1", "c1", 1, undefined, () => ({ type: "x" }));
    outbox.flush();
    expect(outbox.congested).to.equal(true);
    accept = true;
    outbox.flush();
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
