import { expect } from "chai";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = new URL("../../../", import.meta.url); // the package root, from dist/spec/e2e
const binCall = fileURLToPath(new URL("bin/call", root));

/** Runs bin/call with `args` and `stdin`; resolves with its output and exit code. */
function call(args: string[], stdin = ""): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, [binCall, ...args], { env: { ...process.env, RPC_TOKEN: "" }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  child.stdin.end(stdin);
  // bin/call must end by itself; if it hangs, this fails the spec instead of hanging mocha.
  const hung = setTimeout(() => child.kill("SIGKILL"), 15_000);
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(hung);
      resolve({ stdout, stderr, code });
    });
  });
}

describe("bin/call", () => {
  it("SERVICE METHOD JSON: prints the reply as the wire has it, exits 0 for OK and 1 otherwise", async () => {
    const ok = await call(["--token", "valid_token", "KeyValue", "Put", '{"key": "k", "value": "v"}']);
    expect(ok.stdout).to.equal('{"status": "OK", "interceptors_applied": ["logging", "auth", "rate_limit"], "response": {"written": true}}\n');
    expect(ok.code).to.equal(0);

    const refused = await call(["KeyValue", "Get", '{"key": "k"}']);
    expect(refused.stdout).to.equal('{"status": "UNAUTHENTICATED", "interceptor_failed": "auth"}\n');
    expect(refused.code).to.equal(1);
  });

  it("with no call given, makes one call per stdin line, in order, in one node", async () => {
    const { stdout, stderr, code } = await call(["--token", "valid_token"], 'KeyValue Put {"key": "k", "value": "v"}\n\nKeyValue Get {"key": "k"}\nlonely\n');
    expect(stdout.split("\n").filter(Boolean).map((line) => JSON.parse(line) as unknown)).to.deep.equal([
      { status: "OK", interceptors_applied: ["logging", "auth", "rate_limit"], response: { written: true } },
      { status: "OK", interceptors_applied: ["logging", "auth", "rate_limit"], response: { key: "k", value: "v", found: true } },
    ]);
    expect(stderr).to.include("line 4: expected SERVICE METHOD [JSON]");
    expect(code).to.equal(0);
  });

  it("refuses bad usage with exit code 2", async () => {
    for (const args of [["KeyValue"], ["KeyValue", "Get", "{not json"], ["--timeout-ms", "0", "KeyValue", "Get"], ["--token", "", "KeyValue", "Get"], ["--bogus"]]) {
      const { code, stderr } = await call(args);
      expect(code, args.join(" ")).to.equal(2);
      expect(stderr).to.include("bin/call --help");
    }
  });

  it("reports a node that cannot start as UNAVAILABLE", async () => {
    const { stdout, stderr, code } = await call(["--node", "/nonexistent/node", "KeyValue", "Get"]);
    expect(stdout).to.equal('{"status": "UNAVAILABLE"}\n');
    expect(stderr).to.include("cannot run the node");
    expect(code).to.equal(1);
  });
});
