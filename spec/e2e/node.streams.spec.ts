import { expect } from "chai";
import { setTimeout as sleep } from "node:timers/promises";
import { NodeProcess, nodesKilledAfterEach } from "../support/node-process.js";
import { AUTHORIZED, call, init, parseReply } from "../support/messages.js";
import { open, streamCancel, streamEnd, streamMsg } from "../support/stream-messages.js";

// Streaming calls over the real bin/node's stdin/stdout (docs/streams-protocol.md).

const APPLIED = '"interceptors_applied": ["logging", "auth", "rate_limit"]';
const ENV = { LOG_LEVEL: "info", RATE_LIMIT_CAPACITY: "1000000000", RATE_LIMIT_REFILL_PER_SEC: "1000000000" };
const out = (body: string): string => `{"src": "n1", "dest": "c1", "body": ${body}}`;
const put = (msgId: number, key: string, value: string): string => call({ msgId, method: "Put", request: { key, value } });

/** A node that has answered init, so its signal handlers are set and later lines come one by one. */
async function started(start: (env: Record<string, string>) => NodeProcess, env: Record<string, string> = ENV): Promise<NodeProcess> {
  const node = start(env);
  node.writeLines([init()]);
  await node.waitForLines(1);
  return node;
}

/** The log line of the call to `method`. */
function callLog(node: NodeProcess, method: string): Record<string, unknown> | undefined {
  return node.logRecords.find((record) => record["msg"] === "call" && record["method"] === method);
}

describe("bin/node streaming calls (grpc_stream_*)", function () {
  this.timeout(30_000);
  const start = nodesKilledAfterEach();

  it("Scan (server_stream): its messages in key order, then the close, msg_ids consecutive; one log line", async () => {
    const node = start(ENV);
    node.writeLines([init(), put(2, "b", "2"), put(3, "a", "1"), put(4, "c", "3"), open(5, "Scan", "server_stream", { prefix: "", limit: 2 })]);
    node.end();
    expect((await node.exited()).code).to.equal(0);
    expect(node.lines.slice(4)).to.deep.equal([
      out('{"type": "grpc_stream_msg", "in_reply_to": 5, "message": {"key": "a", "value": "1"}, "msg_id": 4}'),
      out('{"type": "grpc_stream_msg", "in_reply_to": 5, "message": {"key": "b", "value": "2"}, "msg_id": 5}'),
      out(`{"type": "grpc_stream_close", "in_reply_to": 5, "status": "OK", ${APPLIED}, "msg_id": 6}`),
    ]);
    expect(callLog(node, "Scan")).to.deep.include({ status: "OK", received: 1, sent: 2 });
  });

  it("PutMany (client_stream): applies the messages in order and answers at the half-close", async () => {
    const node = await started(start);
    node.writeLines([open(2, "PutMany", "client_stream"), streamMsg(3, 2, { key: "k", value: "1" }), streamMsg(4, 2, { key: "k", value: "2" })]);
    await sleep(200);
    expect(node.lines, "nothing before the half-close").to.have.length(1);
    node.writeLines([streamEnd(5, 2)]);
    await node.waitForLines(2);
    node.writeLines([call({ msgId: 6, request: { key: "k" } })]);
    const lines = await node.waitForLines(3);
    expect(lines[1]).to.equal(out(`{"type": "grpc_stream_close", "in_reply_to": 2, "status": "OK", ${APPLIED}, "response": {"written": 2}, "msg_id": 1}`));
    expect(parseReply(lines[2] ?? "").body).to.deep.include({ in_reply_to: 6, response: { key: "k", value: "2", found: true } });
    node.end();
    expect((await node.exited()).code).to.equal(0);
    expect(callLog(node, "PutMany")).to.deep.include({ status: "OK", received: 2, sent: 1 });
  });

  it("Batch (bidi): one result per operation as it comes, a failing operation fails alone", async () => {
    const node = await started(start);
    node.writeLines([open(2, "Batch", "bidi"), streamMsg(3, 2, { put: { key: "x", value: "1" } })]);
    const first = await node.waitForLines(2);
    expect(first[1], "answered before the next operation is sent").to.equal(out('{"type": "grpc_stream_msg", "in_reply_to": 2, "message": {"code": 0, "put": {"written": true}}, "msg_id": 1}'));
    node.writeLines([streamMsg(4, 2, { put: { key: "y" } }), streamMsg(5, 2, { get: { key: "x" } }), streamEnd(6, 2)]);
    const lines = await node.waitForLines(5);
    expect(parseReply(lines[2] ?? "").body["message"]).to.deep.include({ code: 3 });
    expect(lines[3]).to.equal(out('{"type": "grpc_stream_msg", "in_reply_to": 2, "message": {"code": 0, "get": {"key": "x", "value": "1", "found": true}}, "msg_id": 3}'));
    expect(lines[4]).to.equal(out(`{"type": "grpc_stream_close", "in_reply_to": 2, "status": "OK", ${APPLIED}, "msg_id": 4}`));
    node.end();
    expect((await node.exited()).code).to.equal(0);
    expect(callLog(node, "Batch")).to.deep.include({ status: "OK", received: 3, sent: 3 });
  });

  it("an open Watch holds back no unary reply, and unary replies keep their arrival order", async () => {
    const node = await started(start);
    node.writeLines([open(2, "Watch", "server_stream", { prefix: "w" })]);
    await sleep(100);
    node.writeLines([put(3, "a", "1"), put(4, "w1", "x"), call({ msgId: 5, request: { key: "a" } }), put(6, "b", "2")]);
    const lines = await node.waitForLines(6);
    const bodies = lines.slice(1).map((line) => parseReply(line).body);
    expect(bodies.map((body) => body.msg_id)).to.deep.equal([1, 2, 3, 4, 5]);
    const unary = bodies.filter((body) => body.type === "grpc_call_ok").map((body) => body.in_reply_to);
    expect(unary).to.deep.equal([3, 4, 5, 6]);
    expect(bodies.find((body) => body.type === "grpc_stream_msg")).to.deep.include({ in_reply_to: 2, message: { key: "w1", value: "x", deleted: false } });
    expect(lines.some((line) => line.includes("grpc_stream_close")), "the Watch is still open").to.equal(false);
    node.end();
    expect((await node.exited()).code, "end of input ends the Watch").to.equal(0);
    expect(node.lines.at(-1)).to.equal(out('{"type": "grpc_stream_close", "in_reply_to": 2, "status": "UNAVAILABLE", "interceptors_applied": ["logging", "auth", "rate_limit"], "msg_id": 6}'));
  });

  it("grpc_stream_cancel mid-stream: the Watch closes CANCELLED and sends nothing after", async () => {
    const node = await started(start);
    node.writeLines([open(2, "Watch", "server_stream", { prefix: "w" })]);
    await sleep(100);
    node.writeLines([put(3, "w1", "x")]);
    await node.waitForLines(3);
    node.writeLines([streamCancel(4, 2)]);
    const lines = await node.waitForLines(4);
    expect(lines[3]).to.equal(out(`{"type": "grpc_stream_close", "in_reply_to": 2, "status": "CANCELLED", ${APPLIED}, "msg_id": 3}`));
    node.writeLines([put(5, "w2", "y"), streamMsg(6, 2, {}), streamCancel(7, 2)]);
    node.end();
    expect((await node.exited()).code).to.equal(0);
    expect(node.lines.slice(4).map((line) => parseReply(line).body.type), "no message for the Watch after its close").to.deep.equal(["grpc_call_ok"]);
    expect(callLog(node, "Watch")).to.deep.include({ status: "CANCELLED", sent: 1 });
  });

  it("grpc-timeout mid-stream: the Watch ends DEADLINE_EXCEEDED when it passes", async () => {
    const node = await started(start);
    const opened = Date.now();
    node.writeLines([open(2, "Watch", "server_stream", { prefix: "w" }, { ...AUTHORIZED, "grpc-timeout": "300m" })]);
    await sleep(100);
    node.writeLines([put(3, "w1", "x")]);
    const lines = await node.waitForLines(4);
    expect(Date.now() - opened).to.be.at.least(290);
    expect(lines[3]).to.equal(out(`{"type": "grpc_stream_close", "in_reply_to": 2, "status": "DEADLINE_EXCEEDED", ${APPLIED}, "msg_id": 3}`));
    node.end();
    expect((await node.exited()).code).to.equal(0);
  });

  it("a malformed grpc-timeout or an unknown kind is refused at the door, with no interceptor run", async () => {
    const node = start(ENV);
    node.writeLines([
      init(),
      open(2, "Watch", "server_stream", { prefix: "w" }, { ...AUTHORIZED, "grpc-timeout": "soon" }),
      open(3, "Scan", "sideways", { prefix: "" }),
      open(4, "Scan", "bidi"),
      streamEnd(5, 4),
    ]);
    node.end();
    expect((await node.exited()).code).to.equal(0);
    const closes = node.lines.slice(1).map((line) => parseReply(line).body);
    expect(closes.map(({ in_reply_to, status, interceptors_applied }) => ({ in_reply_to, status, interceptors_applied }))).to.have.deep.members([
      { in_reply_to: 2, status: "INVALID_ARGUMENT", interceptors_applied: [] },
      { in_reply_to: 3, status: "INVALID_ARGUMENT", interceptors_applied: [] },
      { in_reply_to: 4, status: "UNIMPLEMENTED", interceptors_applied: ["logging", "auth", "rate_limit"] },
    ]);
  });

  it("a stream stopped by auth closes with interceptor_failed, counted in the stats", async () => {
    const node = await started(start);
    node.writeLines([open(2, "Scan", "server_stream", { prefix: "" }, {})]);
    await node.waitForLines(2);
    node.writeLines([JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_interceptor_stats", msg_id: 3 } })]);
    await node.waitForLines(3);
    node.end();
    expect((await node.exited()).code).to.equal(0);
    expect(node.lines[1]).to.equal(out('{"type": "grpc_stream_close", "in_reply_to": 2, "status": "UNAUTHENTICATED", "interceptor_failed": "auth", "msg_id": 1}'));
    expect(parseReply(node.lines[2] ?? "").body["stats"]).to.deep.equal({ total_requests: 1, auth_failures: 1, rate_limited: 0 });
  });

  it("an open's msg_id is echoed as Python prints it (2.0), and later messages name the stream by its value", async () => {
    const node = await started(start);
    node.writeRaw('{"src":"c1","dest":"n1","body":{"type":"grpc_stream_open","msg_id":2.0,"service":"KeyValue","method":"PutMany","kind":"client_stream","metadata":{"authorization":"Bearer valid_token"}}}\n');
    node.writeLines([streamMsg(3, 2, { key: "k", value: "v" }), streamEnd(4, 2)]);
    const lines = await node.waitForLines(2);
    expect(lines[1]).to.equal(out(`{"type": "grpc_stream_close", "in_reply_to": 2.0, "status": "OK", ${APPLIED}, "response": {"written": 1}, "msg_id": 1}`));
    node.end();
    expect((await node.exited()).code).to.equal(0);
  });

  it("metadata over the limits: auth first (UNAUTHENTICATED without a token), else refused at the door", async () => {
    const node = await started(start);
    const many = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`x-${i}`, "v"]));
    node.writeLines([open(2, "Scan", "server_stream", { prefix: "" }, many), open(3, "Scan", "server_stream", { prefix: "" }, { ...AUTHORIZED, ...many })]);
    await node.waitForLines(3);
    node.end();
    expect((await node.exited()).code).to.equal(0);
    const closes = node.lines.slice(1).map((line) => {
      const { msg_id: _, ...rest } = parseReply(line).body;
      return rest;
    });
    expect(closes).to.have.deep.members([
      { type: "grpc_stream_close", in_reply_to: 2, status: "UNAUTHENTICATED", interceptor_failed: "auth" },
      { type: "grpc_stream_close", in_reply_to: 3, status: "RESOURCE_EXHAUSTED", interceptors_applied: [] },
    ]);
  });

  it("SIGTERM with open streams: each closes UNAVAILABLE and the node exits 0", async () => {
    const node = await started(start);
    node.writeLines([open(2, "Watch", "server_stream", { prefix: "" }), open(3, "PutMany", "client_stream"), streamMsg(4, 3, { key: "k", value: "v" })]);
    await sleep(200);
    node.kill("SIGTERM");
    expect((await node.exited()).code).to.equal(0);
    const closes = node.lines.slice(1).map((line) => parseReply(line).body).filter((body) => body.type === "grpc_stream_close");
    expect(closes.map((body) => [body.in_reply_to, body["status"]])).to.have.deep.members([[2, "UNAVAILABLE"], [3, "UNAVAILABLE"]]);
  });

  it("back-pressure: a Scan behind a reader that stops reading waits, holding memory flat, then finishes", async () => {
    const node = start({ ...ENV, LOG_LEVEL: "warn" });
    const ENTRIES = 100_000;
    const lines = [init(), open(2, "PutMany", "client_stream")];
    for (let i = 0; i < ENTRIES; i++) lines.push(streamMsg(i + 3, 2, { key: `k${String(i).padStart(6, "0")}`, value: "v".repeat(100) }));
    lines.push(streamEnd(ENTRIES + 3, 2));
    await node.writeLinesPaced(lines);
    await node.waitForLines(2, 20_000);
    node.pauseOutput(true);
    node.writeLines([open(ENTRIES + 4, "Scan", "server_stream", { prefix: "k" })]);
    await sleep(1500);
    const before = node.memory();
    const cpuBefore = node.cpuMs();
    await sleep(1000);
    const cpuIdle = node.cpuMs() - cpuBefore;
    const after = node.memory();
    process.stdout.write(`      (paused Scan of ${ENTRIES} x ~150 B: RSS ${before.rssMiB.toFixed(0)} -> ${after.rssMiB.toFixed(0)} MiB, CPU ${cpuIdle} ms in 1 s)\n`);
    expect(cpuIdle, "CPU ms used in 1 s of waiting").to.be.below(100);
    expect(after.rssMiB - before.rssMiB, "RSS growth while paused, MiB").to.be.below(5);
    node.pauseOutput(false);
    await node.waitForLines(2 + ENTRIES + 1, 20_000); // end of input would end the Scan UNAVAILABLE
    node.end();
    expect((await node.exited(20_000)).code).to.equal(0);
    const out = node.lines;
    expect(out).to.have.length(2 + ENTRIES + 1);
    expect(parseReply(out.at(-1) ?? "").body).to.deep.include({ type: "grpc_stream_close", in_reply_to: ENTRIES + 4, status: "OK", msg_id: ENTRIES + 2 });
  });
});
