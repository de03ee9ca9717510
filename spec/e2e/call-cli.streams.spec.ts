import { expect } from "chai";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const binCall = fileURLToPath(new URL("../../../bin/call", import.meta.url));
const APPLIED = '"interceptors_applied": ["logging", "auth", "rate_limit"]';

/** Starts bin/call; `interrupt()` sends it SIGINT as Ctrl-C would (to bin/call only: the node hears the cancel). */
function run(args: string[], stdin?: string) {
  const child = spawn(process.execPath, [binCall, "--token", "valid_token", ...args], { env: { ...process.env, RPC_TOKEN: "" }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  if (stdin !== undefined) child.stdin.end(stdin);
  const hung = setTimeout(() => child.kill("SIGKILL"), 15_000);
  const done = new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(hung);
      resolve({ stdout, stderr, code });
    });
  });
  return { done, interrupt: () => child.kill("SIGINT"), stdout: () => stdout, stdin: child.stdin };
}

describe("bin/call streaming methods", function () {
  this.timeout(20_000);

  it("Batch (bidi): request messages from stdin lines, one {\"message\"} line per answer, then the outcome", async () => {
    const { done } = run(["KeyValue", "Batch"], '{"put": {"key": "a", "value": "1"}}\n\n{"get": {"key": "a"}}\n');
    const { stdout, code } = await done;
    expect(stdout).to.equal(
      '{"message": {"code": 0, "put": {"written": true}}}\n' +
        '{"message": {"code": 0, "get": {"key": "a", "value": "1", "found": true}}}\n' +
        `{"status": "OK", ${APPLIED}}\n`,
    );
    expect(code).to.equal(0);
  });

  it("PutMany (client_stream) answers once at the end of stdin; Scan (server_stream) prints each entry", async () => {
    // One node per bin/call: the Scan sees its own (empty) store.
    const putMany = await run(["KeyValue", "PutMany"], '{"key": "a", "value": "1"}\n{"key": "b", "value": "2"}\n').done;
    expect(putMany.stdout).to.equal(`{"status": "OK", ${APPLIED}, "response": {"written": 2}}\n`);
    const scan = await run(["KeyValue", "Scan", '{"prefix": ""}']).done;
    expect(scan.stdout).to.equal(`{"status": "OK", ${APPLIED}}\n`);
    expect(scan.code).to.equal(0);
  });

  it("Ctrl-C ends a Watch: the node closes it CANCELLED, bin/call prints that and exits 130 (as --target does)", async () => {
    const watch = run(["KeyValue", "Watch", '{"prefix": "k"}']);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(watch.stdout(), "nothing yet: the Watch is open").to.equal("");
    watch.interrupt();
    const { stdout, code, stderr } = await watch.done;
    expect(stdout).to.equal('{"status": "CANCELLED"}\n');
    expect(stderr).to.equal("");
    expect(code).to.equal(130);
  });

  it("refuses a JSON argument for a call whose requests come from stdin, and an unknown --kind", async () => {
    for (const args of [["KeyValue", "PutMany", "{}"], ["--kind", "sideways", "KeyValue", "Get"]]) {
      const { code, stderr } = await run(args, "").done;
      expect(code, args.join(" ")).to.equal(2);
      expect(stderr).to.include("bin/call:");
    }
  });
});
