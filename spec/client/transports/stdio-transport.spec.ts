import { expect } from "chai";
import { PassThrough } from "node:stream";
import { fileURLToPath } from "node:url";
import { createClient } from "../../../lib/client/client.js";
import { spawnNode } from "../../../lib/client/transports/spawn-node.js";
import { StdioTransport } from "../../../lib/client/transports/stdio-transport.js";
import { Status } from "../../../lib/core/status.js";
import { credentials } from "../../../middleware/client/credentials.js";
import { turn } from "../../support/fake-clock.js";

/** The other end of a StdioTransport: the lines it wrote, and a way to answer them. */
function fakeNode() {
  const toNode = new PassThrough();
  const fromNode = new PassThrough();
  const writes: string[] = [];
  toNode.setEncoding("utf8").on("data", (chunk: string) => writes.push(chunk));
  const stray: string[] = [];
  const transport = new StdioTransport({ input: fromNode, output: toNode, onStrayLine: (line) => stray.push(line) });
  const messages = () => writes.join("").split("\n").filter(Boolean).map((line) => JSON.parse(line) as { src: string; dest: string; body: Record<string, unknown> });
  const reply = (body: Record<string, unknown>) => fromNode.write(JSON.stringify({ src: "n1", dest: "c1", body }) + "\n");
  const ok = (inReplyTo: number, response: unknown) => reply({ type: "grpc_call_ok", in_reply_to: inReplyTo, status: "OK", interceptors_applied: ["logging"], response, msg_id: 99 });
  return { transport, toNode, fromNode, writes, messages, reply, ok, stray };
}

describe("new StdioTransport({ input, output })", () => {
  it("sends init, then numbered grpc_calls, the calls of one turn in one write", async () => {
    const node = fakeNode();
    const client = createClient(node.transport);
    void client.call("KeyValue", "Get", { key: "a" }, { metadata: { "x-id": "1" } });
    void client.call("KeyValue", "Put", { key: "b", value: "2" });
    await turn();
    await turn();
    expect(node.writes).to.have.length(1);
    expect(node.messages()).to.deep.equal([
      { src: "c1", dest: "n1", body: { type: "init", node_id: "n1", node_ids: ["n1"], msg_id: 0 } },
      { src: "c1", dest: "n1", body: { type: "grpc_call", service: "KeyValue", method: "Get", request: { key: "a" }, metadata: { "x-id": "1" }, msg_id: 1 } },
      { src: "c1", dest: "n1", body: { type: "grpc_call", service: "KeyValue", method: "Put", request: { key: "b", value: "2" }, metadata: {}, msg_id: 2 } },
    ]);
    node.reply({ type: "init_ok", in_reply_to: 0, msg_id: 0 });
    await node.transport.ready;
    node.transport.destroy();
  });

  it("matches replies to calls by in_reply_to, in whatever order they come", async () => {
    const node = fakeNode();
    const client = createClient(node.transport);
    const calls = ["a", "b", "c"].map((key) => client.call("KeyValue", "Get", { key }));
    await turn();
    node.ok(3, { key: "c" });
    node.ok(1, { key: "a" });
    node.reply({ type: "grpc_call_ok", in_reply_to: 2, status: "NOT_FOUND", interceptors_applied: ["logging"], response: { key: "b", found: false }, msg_id: 7 });
    const results = await Promise.all(calls);
    expect(results.map((r) => [r.status, r.response])).to.deep.equal([
      ["OK", { key: "a" }],
      ["NOT_FOUND", { key: "b", found: false }],
      ["OK", { key: "c" }],
    ]);
    expect(results[0]?.interceptorsApplied).to.deep.equal(["logging"]);
    node.transport.destroy();
  });

  it("gives up on an aborted call at once and drops its late reply", async () => {
    const node = fakeNode();
    const controller = new AbortController();
    const call = createClient(node.transport).call("KeyValue", "Get", { key: "a" }, { signal: controller.signal });
    await turn();
    controller.abort();
    expect((await call).status).to.equal(Status.CANCELLED);
    expect(node.transport.inFlight).to.equal(1); // only init
    node.ok(1, { key: "a" });
    await turn();
    expect(node.stray).to.have.length(1);
    node.transport.destroy();
  });

  it("turns an error reply into its status: 10 (not supported) is UNIMPLEMENTED", async () => {
    const node = fakeNode();
    const call = createClient(node.transport).call("KeyValue", "Get", { key: "a" });
    await turn();
    node.reply({ type: "error", in_reply_to: 1, code: 10, text: "unsupported message type: grpc_call", msg_id: 0 });
    const result = await call;
    expect(result.status).to.equal(Status.UNIMPLEMENTED);
    expect(result.error?.message).to.include("unsupported message type");
    node.transport.destroy();
  });

  it("fails calls in flight with UNAVAILABLE when the node's output ends, and refuses new ones", async () => {
    const node = fakeNode();
    const client = createClient(node.transport);
    const call = client.call("KeyValue", "Get", { key: "a" });
    await turn();
    node.fromNode.end();
    expect((await call).status).to.equal(Status.UNAVAILABLE);
    expect((await client.call("KeyValue", "Get", { key: "a" })).status).to.equal(Status.UNAVAILABLE);
    const ready = await node.transport.ready.then(() => "resolved", (e: unknown) => e);
    expect(ready).to.have.property("code", Status.UNAVAILABLE);
  });

  it("close() ends its output and resolves once the node has answered and closed its side", async () => {
    const node = fakeNode();
    const client = createClient(node.transport);
    const call = client.call("KeyValue", "Get", { key: "a" });
    await turn();
    let closed = false;
    const closing = client.close().then(() => (closed = true));
    await turn();
    expect(node.toNode.writableEnded).to.equal(true);
    expect((await client.call("KeyValue", "Get", { key: "b" })).status, "no new calls while closing").to.equal(Status.UNAVAILABLE);
    node.ok(1, { key: "a" });
    expect((await call).status).to.equal(Status.OK);
    expect(closed).to.equal(false);
    node.fromNode.end();
    await closing;
    expect(node.messages().map((m) => m.body["msg_id"]), "nothing sent after close()").to.deep.equal([0, 1]);
  });
});

describe("spawnNode() against a real bin/node", () => {
  const env = { ...process.env, RATE_LIMIT_CAPACITY: "100000", LOG_LEVEL: "warn" };
  const root = new URL("../../../../", import.meta.url); // the package root, from dist/spec/client/transports

  it("carries 1,000 concurrent calls, every reply matched to its call", async () => {
    const transport = spawnNode({ command: process.execPath, args: [fileURLToPath(new URL("bin/node", root))], env });
    const client = createClient(transport).use(credentials({ token: "valid_token" }));
    await transport.ready;
    const keys = Array.from({ length: 1000 }, (_, i) => `key-${i}`);
    const puts = await Promise.all(keys.map((key, i) => (i % 3 === 0 ? undefined : client.call("KeyValue", "Put", { key, value: `value-${i}` }))));
    expect(puts.filter((put) => put !== undefined && put.status === Status.OK)).to.have.length(666);

    // Every third key was never written: a reply given to the wrong call would show.
    const gets = await Promise.all(keys.map((key) => client.call("KeyValue", "Get", { key })));
    gets.forEach((get, i) => {
      if (i % 3 === 0) expect(get, keys[i]).to.deep.include({ status: "NOT_FOUND", response: { key: keys[i], found: false } });
      else expect(get, keys[i]).to.deep.include({ status: "OK", response: { key: keys[i], value: `value-${i}`, found: true } });
      expect(get.interceptorsApplied).to.deep.equal(["logging", "auth", "rate_limit"]);
    });
    expect(transport.inFlight).to.equal(0);

    await client.close();
    expect(await transport.exited).to.deep.equal({ code: 0, signal: null });
  });

  it("reports what bin/node's interceptors decided", async () => {
    const transport = spawnNode({ env });
    const client = createClient(transport);
    const anonymous = await client.call("KeyValue", "Get", { key: "k" });
    expect(anonymous).to.include({ status: Status.UNAUTHENTICATED, interceptorFailed: "auth", response: undefined });
    await client.close();
  });

  it("answers everything in flight before close() resolves", async () => {
    const transport = spawnNode({ env });
    const client = createClient(transport).use(credentials({ token: "valid_token" }));
    const calls = Array.from({ length: 50 }, (_, i) => client.call("KeyValue", "Put", { key: `k${i}`, value: "v" }));
    await client.close();
    expect((await Promise.all(calls)).every((r) => r.status === Status.OK)).to.equal(true);
    expect(transport.child.exitCode).to.equal(0);
  });

  it("fails calls with UNAVAILABLE when the command cannot run", async () => {
    const transport = spawnNode({ command: "/nonexistent/rpc-node" });
    const result = await createClient(transport).call("KeyValue", "Get", { key: "k" });
    expect(result.status).to.equal(Status.UNAVAILABLE);
    await transport.close();
  });
});
