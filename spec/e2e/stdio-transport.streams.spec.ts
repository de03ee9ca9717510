import { expect } from "chai";
import { PassThrough } from "node:stream";
import { StdioTransport } from "../../lib/client/transports/stdio-transport.js";
import { createClient, credentials, spawnNode } from "../../client.js";
import type { NodeProcessTransport } from "../../lib/client/transports/spawn-node.js";

// The client's four kinds over StdioTransport to a real bin/node child (docs/streams-protocol.md).

const APPLIED = ["logging", "auth", "rate_limit"];

async function* listOf(messages: readonly unknown[]): AsyncGenerator<unknown> {
  yield* messages;
}

describe("StdioTransport.stream() against bin/node", function () {
  this.timeout(20_000);
  let transport: NodeProcessTransport;
  const client = () => createClient(transport).use(credentials({ token: "valid_token" }));

  beforeEach(() => {
    transport = spawnNode({ env: { ...process.env, LOG_LEVEL: "info", RATE_LIMIT_CAPACITY: "1000000", RATE_LIMIT_REFILL_PER_SEC: "1000000" }, stderr: "ignore" });
  });
  afterEach(async () => {
    transport.destroy();
    await transport.exited;
  });

  it("clientStream(), serverStream() and bidi(): messages in order, results with the server's attribution", async () => {
    const c = client();
    const keys = Array.from({ length: 500 }, (_, i) => `k${String(i).padStart(3, "0")}`);
    const written = await c.clientStream("KeyValue", "PutMany", listOf(keys.map((key) => ({ key, value: key.toUpperCase() }))));
    expect(written).to.deep.include({ status: "OK", response: { written: 500 }, interceptorsApplied: APPLIED });

    const scan = c.serverStream("KeyValue", "Scan", { prefix: "k1", limit: 3 });
    const seen: unknown[] = [];
    for await (const entry of scan) seen.push(entry);
    expect(seen).to.deep.equal([{ key: "k100", value: "K100" }, { key: "k101", value: "K101" }, { key: "k102", value: "K102" }]);
    expect(await scan.result).to.deep.include({ status: "OK", interceptorsApplied: APPLIED });

    const batch = c.bidi("KeyValue", "Batch", listOf([{ get: { key: "k007" } }, { delete: { key: "k007" } }, { get: { key: "k007" } }]));
    const results: unknown[] = [];
    for await (const result of batch) results.push(result);
    expect(results).to.have.length(3);
    expect(results[0]).to.deep.equal({ code: 0, get: { key: "k007", value: "K007", found: true } });
    expect((await batch.result).status).to.equal("OK");
    await c.close();
    expect((await transport.exited).code).to.equal(0);
  });

  it("breaking out of for await cancels the call on the node; an aborted signal cancels a Watch", async () => {
    const c = client();
    await c.clientStream("KeyValue", "PutMany", listOf(Array.from({ length: 2000 }, (_, i) => ({ key: `s${i}`, value: "v" }))));
    const scan = c.serverStream("KeyValue", "Scan", { prefix: "s" });
    let n = 0;
    for await (const _ of scan) if (++n === 5) break;
    expect((await scan.result).status).to.equal("CANCELLED");

    const stop = new AbortController();
    const watch = c.serverStream("KeyValue", "Watch", { prefix: "w" }, { signal: stop.signal });
    setTimeout(() => void c.call("KeyValue", "Put", { key: "w1", value: "1" }), 200);
    const changes: unknown[] = [];
    try {
      for await (const change of watch) {
        changes.push(change);
        stop.abort();
      }
    } catch {
      // the abort ends the loop with CANCELLED
    }
    expect(changes).to.deep.equal([{ key: "w1", value: "1", deleted: false }]);
    expect((await watch.result).status).to.equal("CANCELLED");
    // The node still answers: its streams were cancelled, not left running.
    expect((await c.call("KeyValue", "Get", { key: "w1" })).status).to.equal("OK");
    await c.close();
    expect((await transport.exited).code).to.equal(0);
  });

  it("a timeoutMs past due ends a Watch DEADLINE_EXCEEDED", async () => {
    const c = client();
    const watch = c.serverStream("KeyValue", "Watch", { prefix: "w" }, { timeoutMs: 300 });
    const started = Date.now();
    expect((await watch.result).status).to.equal("DEADLINE_EXCEEDED");
    expect(Date.now() - started).to.be.at.least(250);
    await c.close();
  });
});

describe("StdioTransport.stream() against a scripted node", () => {
  it("breaking out of for await writes grpc_stream_cancel for the stream; what the node still sends for it is dropped", async () => {
    const toNode = new PassThrough();
    const fromNode = new PassThrough();
    const written: Record<string, unknown>[] = [];
    const strays: string[] = [];
    let buffered = "";
    toNode.setEncoding("utf8").on("data", (text: string) => {
      buffered += text;
      for (let end = buffered.indexOf("\n"); end !== -1; end = buffered.indexOf("\n")) {
        written.push((JSON.parse(buffered.slice(0, end)) as { body: Record<string, unknown> }).body);
        buffered = buffered.slice(end + 1);
      }
    });
    const reply = (body: Record<string, unknown>): boolean => fromNode.write(`${JSON.stringify({ src: "n1", dest: "c1", body })}\n`);
    const transport = new StdioTransport({ input: fromNode, output: toNode, onStrayLine: (line) => strays.push(line) });
    const until = async (done: () => boolean): Promise<void> => {
      while (!done()) await new Promise((resolve) => setTimeout(resolve, 5));
    };
    await until(() => written.length === 1);
    reply({ type: "init_ok", in_reply_to: 0, msg_id: 0 });
    await transport.ready;

    const scan = createClient(transport).serverStream("KeyValue", "Scan", { prefix: "" });
    const iterator = scan[Symbol.asyncIterator]();
    const first = iterator.next();
    await until(() => written.length === 2);
    expect(written[1]).to.deep.include({ type: "grpc_stream_open", kind: "server_stream", service: "KeyValue", method: "Scan", request: { prefix: "" }, msg_id: 1 });
    for (let i = 0; i < 3; i++) reply({ type: "grpc_stream_msg", in_reply_to: 1, message: { i }, msg_id: i + 1 });
    expect((await first).value).to.deep.equal({ i: 0 });
    await iterator.return?.();
    await until(() => written.length === 3);
    expect(written[2]).to.deep.equal({ type: "grpc_stream_cancel", stream: 1, msg_id: 2 });
    expect((await scan.result).status).to.equal("CANCELLED");
    reply({ type: "grpc_stream_msg", in_reply_to: 1, message: { i: 3 }, msg_id: 4 });
    reply({ type: "grpc_stream_close", in_reply_to: 1, status: "CANCELLED", interceptors_applied: [], msg_id: 5 });
    reply({ type: "grpc_stream_msg", in_reply_to: 1, message: { i: 4 }, msg_id: 6 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(strays, "only what came after the close is a stray").to.have.length(1);
    transport.destroy();
  });
});
