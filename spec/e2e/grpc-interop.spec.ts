// bin/node --listen as a child process, called by a client that contains none of the project's
// code: a bare grpc-js client made from proto/keyvalue.proto (spec/support/bare-grpc.ts).
import { expect } from "chai";
import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { promisify } from "node:util";
import { bareClient, bearer, grpc, healthCheck, HEALTH_PROTO, readAll, reflectedServices, richStatus, unary } from "../support/bare-grpc.js";
import { type GrpcNode, startGrpcNode } from "../support/grpc-node.js";
import { ROOT } from "../support/node-process.js";

const TOKEN = bearer("valid_token");

/** `read()` once `done` holds for it (logs reach stderr in batches), or after 5 s whatever it is. */
async function eventually<T>(read: () => T, done: (value: T) => boolean): Promise<T> {
  const end = Date.now() + 5000;
  let value = read();
  while (!done(value) && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    value = read();
  }
  return value;
}

describe("bin/node --listen (gRPC) with a bare grpc-js client", function () {
  this.timeout(20_000);
  let served: GrpcNode | undefined;
  const clients: grpc.Client[] = [];
  const start = async (env: Record<string, string> = {}) => {
    served = await startGrpcNode({ LOG_LEVEL: "info", ...env });
    const client = bareClient(served.target);
    clients.push(client);
    return { ...served, client };
  };
  afterEach(() => {
    for (const client of clients.splice(0)) client.close();
    if (served !== undefined && !served.node.closed) served.node.kill("SIGKILL");
    served = undefined;
  });

  it("answers Put, Get OK, Get NOT_FOUND, and UNAUTHENTICATED without a token; logs the caller's address without its port", async () => {
    const { client, node } = await start();
    expect((await unary(client, "Put", { key: "k1", value: "v1" }, TOKEN)).response).to.deep.equal({ written: true });
    expect((await unary(client, "Get", { key: "k1" }, TOKEN)).response).to.deep.equal({ key: "k1", value: "v1", found: true });
    expect((await unary(client, "Get", { key: "nope" }, TOKEN)).error?.code).to.equal(grpc.status.NOT_FOUND);
    const anonymous = await unary(client, "Get", { key: "k1" });
    expect([anonymous.error?.code, anonymous.error?.details]).to.deep.equal([grpc.status.UNAUTHENTICATED, "no authorization metadata"]);
    const calls = await eventually(() => node.logRecords.filter((r) => r["msg"] === "call"), (records) => records.length >= 4);
    expect(calls.map((r) => [r["method"], r["status"], r["client"], r["failed"]])).to.deep.equal([
      ["Put", "OK", "127.0.0.1", undefined],
      ["Get", "OK", "127.0.0.1", undefined],
      ["Get", "NOT_FOUND", "127.0.0.1", undefined],
      ["Get", "UNAUTHENTICATED", "127.0.0.1", "auth"],
    ]);
  });

  it("a deadline the call cannot meet ends DEADLINE_EXCEEDED; the server serves the next call", async () => {
    const { client } = await start();
    expect((await unary(client, "Get", { key: "k" }, TOKEN, { deadline: Date.now() - 1 })).error?.code).to.equal(grpc.status.DEADLINE_EXCEEDED);
    expect((await unary(client, "Get", { key: "k" }, TOKEN)).error?.code).to.equal(grpc.status.NOT_FOUND);
  });

  it("over the rate limit: RESOURCE_EXHAUSTED with google.rpc.RetryInfo and grpc-retry-pushback-ms, decoded from the trailers", async () => {
    const { client } = await start({ RATE_LIMIT_CAPACITY: "2", RATE_LIMIT_REFILL_PER_SEC: "4" });
    await unary(client, "Get", { key: "k" }, TOKEN);
    await unary(client, "Get", { key: "k" }, TOKEN);
    const { error } = await unary(client, "Get", { key: "k" }, TOKEN);
    expect([error?.code, error?.details]).to.deep.equal([grpc.status.RESOURCE_EXHAUSTED, "rate limit exceeded"]);
    const rich = richStatus(error!);
    const delay = rich?.details["google.rpc.RetryInfo"]?.["retry_delay"] as { seconds: number; nanos: number };
    const ms = delay.seconds * 1000 + delay.nanos / 1e6;
    expect(ms).to.be.within(1, 250); // a token every 250 ms
    expect(error?.metadata.get("grpc-retry-pushback-ms")).to.deep.equal([String(ms)]);
    await new Promise((resolve) => setTimeout(resolve, ms));
    expect((await unary(client, "Get", { key: "k" }, TOKEN)).error?.code).to.equal(grpc.status.NOT_FOUND);
  });

  it("refuses a 2 MiB value INVALID_ARGUMENT naming the field (google.rpc.BadRequest), a 5 MiB message RESOURCE_EXHAUSTED, and keeps serving", async () => {
    const { client } = await start();
    const big = await unary(client, "Put", { key: "k", value: "x".repeat(2 * 1024 * 1024) }, TOKEN);
    expect(big.error?.code).to.equal(grpc.status.INVALID_ARGUMENT);
    const violations = richStatus(big.error!)?.details["google.rpc.BadRequest"]?.["field_violations"] as { field: string }[];
    expect(violations.map((v) => v.field)).to.deep.equal(["value"]);
    const huge = await unary(client, "Put", { key: "k", value: "x".repeat(5 * 1024 * 1024) }, TOKEN);
    expect(huge.error?.code).to.equal(grpc.status.RESOURCE_EXHAUSTED);
    expect(huge.error?.details).to.match(/larger than max/);
    expect((await unary(client, "Put", { key: "k", value: "small" }, TOKEN)).response).to.deep.equal({ written: true });
  });

  it("serves health and reflection without a token", async () => {
    const { target } = await start();
    expect(await healthCheck(target)).to.equal("SERVING");
    expect(await healthCheck(target, "keyvalue.v1.KeyValue")).to.equal("SERVING");
    expect(await reflectedServices(target)).to.deep.equal(["grpc.health.v1.Health", "keyvalue.v1.KeyValue"]);
  });

  it("passes the streaming methods through the same middleware: a Scan answers with a token, UNAUTHENTICATED without", async () => {
    const { client } = await start();
    expect((await unary(client, "Put", { key: "scan/a", value: "1" }, TOKEN)).error).to.equal(undefined);
    const scan = await readAll(client["Scan"]!({ prefix: "scan/" }, TOKEN) as grpc.ClientReadableStream<unknown>);
    expect([scan.error, scan.messages]).to.deep.equal([undefined, [{ key: "scan/a", value: "1" }]]);
    const anonymous = await readAll(client["Scan"]!({ prefix: "" }, new grpc.Metadata()) as grpc.ClientReadableStream<unknown>);
    expect(anonymous.error?.code).to.equal(grpc.status.UNAUTHENTICATED);
  });

  it("on SIGTERM: health turns NOT_SERVING for an open Watch, calls in flight are answered, the open stream ends, exit 0", async () => {
    const { target, client, node } = await start({ GRPC_SHUTDOWN_GRACE_MS: "300", RATE_LIMIT_CAPACITY: "1000" });
    const health = bareClient(target, "grpc.health.v1.Health", HEALTH_PROTO);
    clients.push(health);
    const watch = health["Watch"]!({ service: "" }) as grpc.ClientReadableStream<{ status: string }>;
    const statuses: string[] = [];
    watch.on("data", (answer: { status: string }) => statuses.push(answer.status));
    const watchEnded = new Promise((resolve) => watch.on("error", resolve));
    await new Promise((resolve) => watch.once("data", resolve));
    const inFlight = Array.from({ length: 20 }, (_, i) => unary(client, "Put", { key: `k${i}`, value: "v" }, TOKEN));
    node.kill("SIGTERM");
    const answers = await Promise.all(inFlight);
    // Each is answered, or refused UNAVAILABLE when it reached a server that had stopped taking calls.
    const outcomes = answers.map((a) => (a.response !== undefined ? "written" : a.error?.code === grpc.status.UNAVAILABLE ? "refused" : `${a.error?.code} ${a.error?.details}`));
    expect(outcomes.filter((o) => o !== "written" && o !== "refused")).to.deep.equal([]);
    await watchEnded;
    expect(statuses).to.deep.equal(["SERVING", "NOT_SERVING"]);
    expect(await node.exited(5000)).to.deep.equal({ code: 0, signal: null });
    expect(node.logRecords.map((r) => r["msg"])).to.include.members(["shutting down", "stopped"]);
  });

  it("bin/call --target calls it", async () => {
    const { target } = await start();
    const call = promisify(execFile);
    const put = await call(`${ROOT}bin/call`, ["--target", target, "--token", "valid_token", "KeyValue", "Put", '{"key": "a", "value": "1"}']);
    expect(put.stdout).to.equal('{"status": "OK", "response": {"written": true}}\n');
    const get = await call(`${ROOT}bin/call`, ["--target", target, "--token", "valid_token", "KeyValue", "Get", '{"key": "a"}']);
    expect(get.stdout).to.equal('{"status": "OK", "response": {"key": "a", "value": "1", "found": true}}\n');
  });
});

describe("bin/node in stdio mode", () => {
  it("does not load the gRPC stack: no static import from dist/bin/node.js reaches @grpc, grpc-health-check or protobufjs", () => {
    const seen = new Set<string>();
    const reached: string[] = [];
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      // Static imports only: `import(...)` is what --listen uses to load gRPC when asked.
      for (const match of readFileSync(file, "utf8").matchAll(/^(?:import|export)\s[^;]*?from\s+"([^"]+)";/gm)) {
        const specifier = match[1]!;
        if (specifier.startsWith(".")) walk(resolve(dirname(file), specifier));
        else reached.push(specifier);
      }
    };
    walk(`${ROOT}dist/bin/node.js`);
    expect(seen.size).to.be.above(5);
    expect(reached.filter((s) => /grpc|protobufjs/.test(s))).to.deep.equal([]);
  });
});

/** A Python with grpcio (Debian's python3-grpcio installs it for /usr/bin/python3), or undefined. */
function pythonWithGrpc(): string | undefined {
  for (const python of ["python3", "/usr/bin/python3"]) {
    const probe = spawnSync(python, ["-c", "import grpc"], { stdio: "ignore" });
    if (probe.status === 0) return python;
  }
  return undefined;
}

describe("bin/node --listen with Python's grpcio as the client", function () {
  this.timeout(20_000);
  const python = pythonWithGrpc();

  it("answers a second independent client: statuses, messages, RetryInfo and pushback trailers", async function () {
    if (python === undefined) this.skip(); // apt-get install python3-grpcio
    const served = await startGrpcNode({ RATE_LIMIT_CAPACITY: "3", RATE_LIMIT_REFILL_PER_SEC: "1" });
    try {
      const { stdout } = await promisify(execFile)(python!, [`${ROOT}spec/e2e/grpc-python-client.py`, served.target]);
      const lines = stdout.trim().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines.map((l) => [l["call"], l["code"]])).to.deep.equal([
        ["put", "OK"], ["get", "OK"], ["get-missing", "NOT_FOUND"], ["get-anonymous", "UNAUTHENTICATED"], ["get-3", "RESOURCE_EXHAUSTED"], ["get-4", "RESOURCE_EXHAUSTED"],
      ]);
      expect(lines[1]).to.include({ response_has_key: true });
      expect(lines[3]).to.include({ details: "no authorization metadata" });
      const trailers = lines[4]!["trailers"] as Record<string, string>;
      expect(Number(trailers["grpc-retry-pushback-ms"])).to.be.within(1, 1000);
      expect(trailers["grpc-status-details-bin"]).to.match(/^<\d+ bytes>$/);
    } finally {
      served.node.kill("SIGKILL");
    }
  });
});
