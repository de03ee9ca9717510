import { expect } from "chai";
import { spawn } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BIN_NODE, runNode } from "../support/node-process.js";
import { call, init } from "../support/messages.js";

/** bin/node with stdin and stdout on regular files, as the benchmark runs it; resolves with what it wrote. */
function runToFile(input: readonly string[], dir: string): Promise<{ code: number | null; stdout: string }> {
  writeFileSync(join(dir, "in"), input.map((line) => `${line}\n`).join(""));
  const stdin = openSync(join(dir, "in"), "r");
  const stdout = openSync(join(dir, "out"), "w");
  const child = spawn(BIN_NODE, [], { stdio: [stdin, stdout, "ignore"], env: { PATH: process.env["PATH"] ?? "", RATE_LIMIT_CAPACITY: "1000000", RATE_LIMIT_REFILL_PER_SEC: "1000000" } });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => {
      closeSync(stdin);
      closeSync(stdout);
      resolve({ code, stdout: readFileSync(join(dir, "out"), "utf8") });
    });
  });
}

describe("bin/node with stdout on a regular file (end to end)", () => {
  it("writes the same bytes as to a pipe: batches over 64 KiB and lines over 4 KiB, whole", async function () {
    this.timeout(30_000);
    const long = "v".repeat(10_000);
    const input = [init()];
    for (let i = 0; i < 3000; i++) input.push(call({ msgId: i + 2, method: i % 2 === 0 ? "Put" : "Get", request: i % 2 === 0 ? { key: `k${i}`, value: i % 100 === 0 ? long : `v${i}` } : { key: `k${i - 1}` } }));
    const dir = mkdtempSync(join(tmpdir(), "node-stdout-file-"));
    try {
      const [toFile, toPipe] = await Promise.all([runToFile(input, dir), runNode(input, { env: { RATE_LIMIT_CAPACITY: "1000000", RATE_LIMIT_REFILL_PER_SEC: "1000000" } })]);
      expect(toFile.code).to.equal(0);
      expect(toPipe.code).to.equal(0);
      expect(toFile.stdout.split("\n")).to.have.length(input.length + 1);
      expect(toFile.stdout.length).to.be.greaterThan(200_000);
      expect(toFile.stdout === toPipe.stdout, "the file's bytes are the pipe's").to.equal(true);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
