// bin/node --listen as a child process, its streaming methods (the real KeyValue on the memory
// store, behind logging, auth and rate_limit) called by a client with none of the project's
// code: a bare grpc-js client from proto/keyvalue.proto, and Python's grpcio for Scan.
import { expect } from "chai";
import { type ChildProcess, execFile, spawn, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { bareClient, type BareClient, bearer, clientStream, grpc, reader, richStatus, unary } from "../support/bare-grpc.js";
import { type GrpcNode, startGrpcNode } from "../support/grpc-node.js";
import { ROOT } from "../support/node-process.js";

const TOKEN = bearer("valid_token");

interface Entry { key: string; value: string }
interface Change { key: string; value: string; deleted: boolean }
interface OperationResult { code: number; result?: string; get?: { key: string; value: string; found: boolean }; put?: { written: boolean }; delete?: { key: string; deleted: boolean } }

/** The `call` log lines of `method`, once there are `count` of them (logs reach stderr in batches), or after 5 s whatever there is. */
async function callLines(served: GrpcNode, method: string, count = 1): Promise<Record<string, unknown>[]> {
  const read = () => served.node.logRecords.filter((r) => r["msg"] === "call" && r["method"] === method);
  const end = Date.now() + 5000;
  while (read().length < count && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 20));
  return read();
}

function headersOf(call: grpc.ClientReadableStream<unknown>): Promise<grpc.Metadata> {
  return new Promise((resolve) => call.once("metadata", resolve));
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("bin/node --listen: KeyValue's streaming methods with a bare grpc-js client", function () {
  this.timeout(20_000);
  let served: GrpcNode | undefined;
  let client: BareClient;
  const start = async (env: Record<string, string> = {}) => {
    served = await startGrpcNode({ LOG_LEVEL: "info", RATE_LIMIT_CAPACITY: "1000", ...env });
    client = bareClient(served.target);
    return served;
  };
  afterEach(() => {
    client?.close();
    if (served !== undefined && !served.node.closed) served.node.kill("SIGKILL");
    served = undefined;
  });

  describe("Scan (server streaming)", () => {
    it("streams the entries under the prefix in UTF-8 byte order, the first `limit` of them, and logs one line with the count sent", async () => {
      const node = await start();
      // UTF-16 order would put the surrogate pair of U+1F600 before U+FFFD; UTF-8 order puts it after.
      for (const key of ["k\u{1F600}", "k\uFFFD", "k:b", "k:a", "other"]) await unary(client, "Put", { key, value: `v-${key}` }, TOKEN);
      const all = reader<Entry>(client["Scan"]!({ prefix: "k" }, TOKEN) as grpc.ClientReadableStream<Entry>);
      expect(await all.ended).to.deep.equal({});
      expect(all.received.map((e) => e.key)).to.deep.equal(["k:a", "k:b", "k\uFFFD", "k\u{1F600}"]);
      expect(all.received[0]).to.deep.equal({ key: "k:a", value: "v-k:a" });
      const limited = reader<Entry>(client["Scan"]!({ prefix: "k", limit: 2 }, TOKEN) as grpc.ClientReadableStream<Entry>);
      await limited.ended;
      expect(limited.received.map((e) => e.key)).to.deep.equal(["k:a", "k:b"]);
      const lines = await callLines(node, "Scan", 2);
      expect(lines.map((l) => [l["status"], l["received"], l["sent"]])).to.deep.equal([["OK", 1, 4], ["OK", 1, 2]]);
    });

    it("cancelled mid-stream: the server stops producing (its one log line: CANCELLED, far fewer messages than the scan holds)", async () => {
      const node = await start();
      const value = "x".repeat(1000);
      const put = await clientStream(client, "PutMany", Array.from({ length: 3000 }, (_, i) => ({ key: `m${String(i).padStart(5, "0")}`, value })), TOKEN);
      expect(put.response).to.deep.equal({ written: 3000 });
      const call = client["Scan"]!({ prefix: "m" }, TOKEN) as grpc.ClientReadableStream<Entry>;
      const scan = reader<Entry>(call);
      for (let i = 0; i < 5; i++) await scan.next();
      call.cancel();
      expect((await scan.ended).error?.code).to.equal(grpc.status.CANCELLED);
      const [line] = await callLines(node, "Scan");
      expect(line?.["status"]).to.equal("CANCELLED");
      // HTTP/2 flow control and grpc-js's buffers let the server run ahead of the reader by a window, not by the whole scan.
      expect(line?.["sent"]).to.be.within(5, 1000);
    });
  });

  describe("Watch (server streaming)", () => {
    it("sends its headers once subscribed, sees a Put and a Delete made by other calls after them; a cancel ends it, and its log line counts what was sent", async () => {
      const node = await start();
      const call = client["Watch"]!({ prefix: "w:" }, TOKEN) as grpc.ClientReadableStream<Change>;
      const watch = reader<Change>(call);
      await headersOf(call);
      await unary(client, "Put", { key: "w:a", value: "1" }, TOKEN);
      await unary(client, "Put", { key: "elsewhere", value: "x" }, TOKEN);
      await unary(client, "Delete", { key: "w:a" }, TOKEN);
      expect(await watch.next()).to.deep.equal({ key: "w:a", value: "1", deleted: false });
      expect(await watch.next()).to.deep.equal({ key: "w:a", value: "", deleted: true });
      await sleep(200);
      call.cancel();
      expect((await watch.ended).error?.code).to.equal(grpc.status.CANCELLED);
      // Changes after the cancel reach no watcher: the handler has stopped.
      await unary(client, "Put", { key: "w:b", value: "2" }, TOKEN);
      const [line] = await callLines(node, "Watch");
      expect([line?.["status"], line?.["received"], line?.["sent"]]).to.deep.equal(["CANCELLED", 1, 2]);
      expect(line?.["ms"]).to.be.at.least(200);
      expect(watch.received).to.have.length(2);
    });

    it("a deadline mid-stream ends it DEADLINE_EXCEEDED, on the client and in the server's log line", async () => {
      const node = await start();
      const call = client["Watch"]!({ prefix: "" }, TOKEN, { deadline: Date.now() + 400 }) as grpc.ClientReadableStream<Change>;
      const watch = reader<Change>(call);
      await headersOf(call);
      await unary(client, "Put", { key: "d", value: "1" }, TOKEN);
      expect(await watch.next()).to.deep.equal({ key: "d", value: "1", deleted: false });
      expect((await watch.ended).error?.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
      const [line] = await callLines(node, "Watch");
      expect([line?.["status"], line?.["sent"]]).to.deep.equal(["DEADLINE_EXCEEDED", 1]);
      expect(line?.["ms"]).to.be.within(300, 2000);
    });

    it("on SIGTERM with a Watch open: the Watch ends UNAVAILABLE after the grace period, its log line is written, bin/node exits 0", async () => {
      const node = await start({ GRPC_SHUTDOWN_GRACE_MS: "400" });
      const call = client["Watch"]!({ prefix: "" }, TOKEN) as grpc.ClientReadableStream<Change>;
      const watch = reader<Change>(call);
      await headersOf(call);
      const signalledAt = Date.now();
      node.node.kill("SIGTERM");
      const { error } = await watch.ended;
      expect([error?.code, error?.details]).to.deep.equal([grpc.status.UNAVAILABLE, "the server is shutting down"]);
      expect(Date.now() - signalledAt).to.be.at.least(350);
      expect(await node.node.exited(5000)).to.deep.equal({ code: 0, signal: null });
      const [line] = await callLines(node, "Watch");
      expect(line?.["status"]).to.equal("UNAVAILABLE");
    });
  });

  describe("PutMany (client streaming)", () => {
    it("answers the summary at the half-close, with one log line counting the messages received", async () => {
      const node = await start();
      const put = await clientStream(client, "PutMany", [{ key: "a", value: "1" }, { key: "b", value: "2" }, { key: "a", value: "3" }], TOKEN);
      expect(put.response).to.deep.equal({ written: 3 });
      expect((await unary(client, "Get", { key: "a" }, TOKEN)).response).to.deep.equal({ key: "a", value: "3", found: true });
      const lines = await callLines(node, "PutMany");
      expect(lines.map((l) => [l["status"], l["received"], l["sent"]])).to.deep.equal([["OK", 3, 1]]);
    });

    it("an invalid item ends it INVALID_ARGUMENT naming the field; the items before it stay written, those after are not", async () => {
      await start();
      const put = await clientStream(client, "PutMany", [{ key: "a", value: "1" }, { key: "b", value: "2" }, { key: "x".repeat(2000), value: "3" }, { key: "c", value: "4" }], TOKEN);
      expect(put.error?.code).to.equal(grpc.status.INVALID_ARGUMENT);
      const violations = richStatus(put.error!)?.details["google.rpc.BadRequest"]?.["field_violations"] as { field: string }[];
      expect(violations.map((v) => v.field)).to.deep.equal(["key"]);
      expect((await unary(client, "Get", { key: "b" }, TOKEN)).response).to.deep.equal({ key: "b", value: "2", found: true });
      expect((await unary(client, "Get", { key: "c" }, TOKEN)).error?.code).to.equal(grpc.status.NOT_FOUND);
    });
  });

  describe("Batch (bidirectional)", () => {
    it("answers each operation before the next is sent (before the half-close), in order; a failing operation fails alone", async () => {
      const node = await start();
      const call = client["Batch"]!(TOKEN) as grpc.ClientDuplexStream<object, OperationResult>;
      const results = reader<OperationResult>(call);
      const answer = async (operation: object) => {
        call.write(operation);
        const result = await results.next();
        return [result.code, result.result ?? null];
      };
      expect(await answer({ put: { key: "k", value: "v" } })).to.deep.equal([grpc.status.OK, "put"]);
      expect(await answer({ get: { key: "k" } })).to.deep.equal([grpc.status.OK, "get"]);
      expect(results.received[1]?.get).to.deep.equal({ key: "k", value: "v", found: true });
      expect(await answer({ get: { key: "missing" } })).to.deep.equal([grpc.status.NOT_FOUND, null]);
      expect(await answer({})).to.deep.equal([grpc.status.INVALID_ARGUMENT, null]);
      expect(await answer({ put: { key: "x".repeat(2000), value: "v" } })).to.deep.equal([grpc.status.INVALID_ARGUMENT, null]);
      expect(await answer({ delete: { key: "k" } })).to.deep.equal([grpc.status.OK, "delete"]);
      expect(results.received[5]?.delete).to.deep.equal({ key: "k", deleted: true });
      call.end();
      expect(await results.ended).to.deep.equal({});
      const lines = await callLines(node, "Batch");
      expect(lines.map((l) => [l["status"], l["received"], l["sent"]])).to.deep.equal([["OK", 6, 6]]);
    });
  });

  describe("auth and rate_limit around streams", () => {
    it("run once per call, before the stream opens: a PutMany of 10 and a Batch of 10 cost one token each; an anonymous Watch is UNAUTHENTICATED", async () => {
      const node = await start({ RATE_LIMIT_CAPACITY: "3", RATE_LIMIT_REFILL_PER_SEC: "0" });
      const anonymous = reader(client["Watch"]!({ prefix: "" }, new grpc.Metadata()) as grpc.ClientReadableStream<Change>);
      expect((await anonymous.ended).error?.code).to.equal(grpc.status.UNAUTHENTICATED);
      const items = Array.from({ length: 10 }, (_, i) => ({ key: `r${i}`, value: "v" }));
      expect((await clientStream(client, "PutMany", items, TOKEN)).response).to.deep.equal({ written: 10 });
      const batch = client["Batch"]!(TOKEN) as grpc.ClientDuplexStream<object, OperationResult>;
      const results = reader<OperationResult>(batch);
      for (const { key } of items) batch.write({ get: { key } });
      batch.end();
      expect(await results.ended).to.deep.equal({});
      expect(results.received.map((r) => r.code)).to.deep.equal(items.map(() => grpc.status.OK));
      const scan = reader<Entry>(client["Scan"]!({ prefix: "r" }, TOKEN) as grpc.ClientReadableStream<Entry>);
      await scan.ended;
      expect(scan.received).to.have.length(10);
      // Three calls, three tokens: the fourth is refused.
      expect((await unary(client, "Get", { key: "r1" }, TOKEN)).error?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
      const lines = node.node.logRecords.filter((r) => r["msg"] === "call");
      expect((await callLines(node, "Get")).map((l) => l["failed"])).to.deep.equal(["rate_limit"]);
      expect(lines.filter((l) => l["method"] === "Watch").map((l) => [l["status"], l["failed"]])).to.deep.equal([["UNAUTHENTICATED", "auth"]]);
    });
  });
});

/** A Python with grpcio (Debian's python3-grpcio installs it for /usr/bin/python3), or undefined. */
function pythonWithGrpc(): string | undefined {
  for (const python of ["python3", "/usr/bin/python3"]) {
    if (spawnSync(python, ["-c", "import grpc"], { stdio: "ignore" }).status === 0) return python;
  }
  return undefined;
}

describe("bin/node --listen: Scan with Python's grpcio as the client", function () {
  this.timeout(20_000);
  const python = pythonWithGrpc();

  it("streams the entries in UTF-8 byte order, the first `limit` of them", async function () {
    if (python === undefined) this.skip(); // apt-get install python3-grpcio
    const served = await startGrpcNode({ RATE_LIMIT_CAPACITY: "1000" });
    const client = bareClient(served.target);
    try {
      for (const key of ["p\u{1F600}", "p\uFFFD", "p:b", "p:a", "q"]) await unary(client, "Put", { key, value: `v-${key}` }, TOKEN);
      const run = promisify(execFile);
      const all = await run(python!, [`${ROOT}spec/e2e/grpc-python-client.py`, served.target, "scan", "p", "0"]);
      expect(all.stdout.trim().split("\n").map((line) => JSON.parse(line) as unknown)).to.deep.equal([
        { key: "p:a", value: "v-p:a" }, { key: "p:b", value: "v-p:b" }, { key: "p\uFFFD", value: "v-p\uFFFD" }, { key: "p\u{1F600}", value: "v-p\u{1F600}" }, { status: "OK" },
      ]);
      const limited = await run(python!, [`${ROOT}spec/e2e/grpc-python-client.py`, served.target, "scan", "p", "1"]);
      expect(limited.stdout.trim().split("\n").map((line) => JSON.parse(line) as unknown)).to.deep.equal([{ key: "p:a", value: "v-p:a" }, { status: "OK" }]);
    } finally {
      client.close();
      served.node.kill("SIGKILL");
    }
  });
});

describe("bin/call --target: the streaming methods", function () {
  this.timeout(20_000);
  let served: GrpcNode | undefined;
  afterEach(() => {
    if (served !== undefined && !served.node.closed) served.node.kill("SIGKILL");
    served = undefined;
  });

  /** Runs bin/call with `stdin`; resolves with its output and exit once it exits. */
  function runCall(args: string[], stdin = "", onStdout?: (text: string, child: ChildProcess) => void): Promise<{ stdout: string; stderr: string; code: number | null }> {
    const child = spawn(`${ROOT}bin/call`, args, { stdio: ["pipe", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
      onStdout?.(stdout, child);
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdin.end(stdin);
    return new Promise((resolve) => child.once("exit", (code) => resolve({ stdout, stderr, code })));
  }

  it("PutMany reads its requests from stdin; Scan prints one line per message, then the outcome", async () => {
    served = await startGrpcNode({ RATE_LIMIT_CAPACITY: "1000" });
    const auth = ["--target", served.target, "--token", "valid_token"];
    const put = await runCall([...auth, "KeyValue", "PutMany"], '{"key": "s:b", "value": "2"}\n{"key": "s:a", "value": "1"}\n');
    expect([put.stdout, put.code]).to.deep.equal(['{"status": "OK", "response": {"written": 2}}\n', 0]);
    const scan = await runCall([...auth, "KeyValue", "Scan", '{"prefix": "s:"}']);
    expect([scan.stdout, scan.code]).to.deep.equal([
      '{"message": {"key": "s:a", "value": "1"}}\n{"message": {"key": "s:b", "value": "2"}}\n{"status": "OK"}\n',
      0,
    ]);
  });

  it("Ctrl-C (SIGINT) ends a Watch: the server sees the cancel, the last line says CANCELLED, exit 130", async () => {
    served = await startGrpcNode({ LOG_LEVEL: "info", RATE_LIMIT_CAPACITY: "1000" });
    const client = bareClient(served.target);
    try {
      let put = false;
      const watch = runCall(["--target", served.target, "--token", "valid_token", "KeyValue", "Watch", '{"prefix": "w"}'], "", (stdout, child) => {
        if (!put && stdout.includes('"w1"')) {
          put = true;
          child.kill("SIGINT");
        }
      });
      // bin/call prints nothing before the first change: Put until the Watch has seen one.
      const started = Date.now();
      const putting = (async () => {
        while (!put && Date.now() - started < 10_000) {
          await unary(client, "Put", { key: "w1", value: "v" }, TOKEN);
          await sleep(100);
        }
      })();
      const { stdout, code } = await watch;
      await putting;
      const lines = stdout.trim().split("\n");
      expect(lines[0]).to.equal('{"message": {"key": "w1", "value": "v", "deleted": false}}');
      expect(lines[lines.length - 1]).to.equal('{"status": "CANCELLED"}');
      expect(code).to.equal(130);
      const [line] = await callLines(served, "Watch");
      expect(line?.["status"]).to.equal("CANCELLED");
    } finally {
      client.close();
    }
  });
});
