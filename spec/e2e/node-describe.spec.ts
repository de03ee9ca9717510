import { spawn } from "node:child_process";
import { once } from "node:events";
import { join, resolve } from "node:path";
import { expect } from "chai";

// bin/node --describe, run for real as a child process.

const NODE = join(resolve(import.meta.dirname, "..", "..", ".."), "bin", "node");

interface Exit {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs bin/node with `args`; stdin stays open unless `input` is given, then it is written and closed. */
async function node(args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<Exit> {
  const child = spawn(NODE, args, { env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString("utf8")));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString("utf8")));
  if (options.input !== undefined) child.stdin.end(options.input);
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  try {
    const [code] = (await once(child, "exit")) as [number | null];
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
    child.stdin.destroy();
  }
}

describe("bin/node --describe", () => {
  it("prints the chain of each method on stdout and exits 0 without reading stdin", async () => {
    const { code, stdout } = await node(["--describe"]); // stdin left open: it must not wait for it
    expect(code).to.equal(0);
    expect(stdout).to.equal(
      [
        "middleware, outermost first:",
        "  logging",
        "  auth",
        "  rate_limit",
        "chain per method:",
        "  KeyValue/Get      logging -> auth -> rate_limit -> handler",
        "  KeyValue/Put      logging -> auth -> rate_limit -> handler",
        "  KeyValue/Delete   logging -> auth -> rate_limit -> handler",
        "  KeyValue/Scan     logging -> auth -> rate_limit -> handler",
        "  KeyValue/Watch    logging -> auth -> rate_limit -> handler",
        "  KeyValue/PutMany  logging -> auth -> rate_limit -> handler",
        "  KeyValue/Batch    logging -> auth -> rate_limit -> handler",
        "",
      ].join("\n"),
    );
  });

  it("is listed by --help, as a flag without an environment variable", async () => {
    const { code, stdout } = await node(["--help"]);
    expect(code).to.equal(0);
    expect(stdout).to.match(/^ {2}--describe {2,}print the middleware chain of each method and exit/m);
  });

  it("is not switched on from the environment: a node with DESCRIBE=1 serves", async () => {
    const init = JSON.stringify({ src: "c1", dest: "n1", body: { type: "init", msg_id: 1, node_id: "n1", node_ids: ["n1"] } });
    const { code, stdout } = await node([], { input: `${init}\n`, env: { DESCRIBE: "1" } });
    expect(code).to.equal(0);
    expect(stdout).to.equal('{"src": "n1", "dest": "c1", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}\n');
  });
});
