import { expect } from "chai";
import type { Application } from "../../../lib/core/application.js";
import { StdioHost } from "../../../lib/hosts/stdio/stdio-host.js";
import { createNodeApplication } from "../../../lib/app/node-app.js";
import { captureLogger } from "../../support/log-capture.js";
import { AUTHORIZED, call, init, parseReply, stats } from "../../support/messages.js";

const CONFIG = { authTokens: ["valid_token"], rateLimitCapacity: 10, rateLimitRefillPerSecond: 10, trustProxy: false };

/** An StdioHost over the real application, its output and logs kept in memory. */
function stdioHost(level: "info" | "debug" | "trace" = "info") {
  const log = captureLogger(level);
  const chunks: string[] = [];
  const node = new StdioHost({ app: createNodeApplication({ config: CONFIG, logger: log.logger }), logger: log.logger, write: (c) => (chunks.push(c), true) });
  const feed = async (lines: readonly string[]) => {
    lines.forEach((line, i) => node.handleLine(line, i + 1));
    await node.whenIdle();
    return chunks.join("").split("\n").filter((l) => l !== "");
  };
  return { node, log, feed };
}

describe("StdioHost.handleLine()", () => {
  it("answers init with init_ok from the new node id", async () => {
    const { node, feed } = stdioHost();
    const out = await feed([init(1, "n7")]);
    expect(out).to.deep.equal(['{"src": "n7", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}']);
    expect(node.nodeId).to.equal("n7");
    expect(node.nodeIds).to.deep.equal(["n7"]);
  });

  it("answers a call before init from the incoming dest", async () => {
    const { feed } = stdioHost();
    const out = await feed([JSON.stringify({ src: "c1", dest: "n3", body: { type: "grpc_call", msg_id: 4, service: "KeyValue", method: "Get", request: { key: "k" }, metadata: AUTHORIZED } })]);
    expect(parseReply(out[0] ?? "").src).to.equal("n3");
  });

  it("counts a call without msg_id in the stats but sends it no reply", async () => {
    const { feed } = stdioHost();
    const noMsgId = JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_call", service: "KeyValue", method: "Get", request: { key: "k" }, metadata: {} } });
    const out = await feed([noMsgId, stats(9)]);
    expect(out).to.have.length(1);
    expect(parseReply(out[0] ?? "").body).to.deep.include({ stats: { total_requests: 1, auth_failures: 1, rate_limited: 0 }, msg_id: 0 });
  });

  it("skips lines that are not JSON or not envelopes, logging their line numbers, and answers the rest", async () => {
    const { log, feed } = stdioHost();
    const out = await feed(["not json", '{"dest":"n1","body":{"type":"init","msg_id":1}}', '{"src":"c1","body":[]}', "", call({ msgId: 5 })]);
    expect(out).to.have.length(1);
    expect(parseReply(out[0] ?? "").body.in_reply_to).to.equal(5);
    const warned = log.records().filter((r) => r["level"] === 40).map((r) => r["line"]);
    expect(warned).to.deep.equal([1, 2, 3]);
  });

  it("does not echo a garbage line into the log (JSON.parse messages quote the input, bearer tokens included)", async () => {
    const { log, feed } = stdioHost("trace");
    const garbage = [
      "Bearer valid_token",
      '{"src": "c1", "body": {"metadata": {"authorization": Bearer valid_token}}}',
      "{'src': 'c1', 'body': {'metadata': {'authorization': 'Bearer valid_token'}}}",
      '{"metadata":{"authorization":"Bearer valid_token"}} trailing',
    ];
    await feed(garbage);
    expect(log.records().filter((r) => r["msg"] === "input line is not JSON; skipped").map((r) => r["line"])).to.deep.equal([1, 2, 3, 4]);
    expect(log.lines.join("")).not.to.include("valid_token");
    expect(log.lines.join("")).not.to.include("Bearer val");
  });
});

describe("StdioHost.handleLine() on hostile input", () => {
  const deepArray = (depth: number): string => "[".repeat(depth) + "]".repeat(depth);
  const envelope = (body: string): string => `{"src": "c1", "dest": "n1", "body": ${body}}`;

  it("answers a message whose type is an object that cannot become a string", async () => {
    const { feed } = stdioHost();
    const out = await feed([envelope('{"type": {"toString": 1, "valueOf": 2}, "msg_id": 1}'), call({ msgId: 2 })]);
    expect(parseReply(out[0] ?? "").body).to.deep.equal({ type: "error", in_reply_to: 1, code: 10, text: "unsupported message type: (an object)", msg_id: 0 });
    expect(parseReply(out[1] ?? "").body).to.deep.include({ in_reply_to: 2, status: "NOT_FOUND" });
  });

  it("answers a message whose type is an array nested 100,000 deep (no String() of it: that overflows the stack)", async () => {
    const { feed } = stdioHost();
    const out = await feed([envelope(`{"type": ${deepArray(100_000)}, "msg_id": 1}`), call({ msgId: 2 })]);
    expect(out).to.have.length(2);
    expect(parseReply(out[0] ?? "").body).to.deep.include({ type: "error", in_reply_to: 1, text: "unsupported message type: (an array)" });
  });

  it("sends no reply to a msg_id it cannot echo: nested 100,000 deep (a stack overflow in the serialiser), 1e400, null, true, an object", async () => {
    const { log, feed } = stdioHost();
    const unusable = [deepArray(100_000), "1e400", "-1e400", "null", "true", '{"id": 1}', "[1]"];
    const out = await feed([...unusable.map((id) => envelope(`{"type": "grpc_call", "msg_id": ${id}, "service": "KeyValue", "method": "Get", "request": {"key": "k"}}`)), stats(9)]);
    expect(out).to.have.length(1);
    expect(parseReply(out[0] ?? "").body).to.deep.include({ in_reply_to: 9, stats: { total_requests: unusable.length, auth_failures: unusable.length, rate_limited: 0 }, msg_id: 0 });
    expect(log.records().filter((r) => r["msg"] === "msg_id is not a finite number or a string; no reply will be sent").map((r) => r["line"])).to.deep.equal([1, 2, 3, 4, 5, 6, 7]);
  });

  it("echoes a msg_id that is a string or a number of any size a double holds, as Python's json.dumps would", async () => {
    const { feed } = stdioHost();
    const out = await feed([envelope('{"type": "x", "msg_id": "abc"}'), envelope('{"type": "x", "msg_id": -2.5}'), envelope('{"type": "x", "msg_id": 1e300}')]);
    expect(out.map((l) => parseReply(l).body.in_reply_to)).to.deep.equal(["abc", -2.5, 1e300]);
  });

  it("logs a message whose handling throws, skips it, and answers the next (a bug costs one message, not the process)", async () => {
    const log = captureLogger();
    const chunks: string[] = [];
    const broken = {
      run: () => {
        throw new Error("run threw");
      },
    };
    const node = new StdioHost({ app: broken as unknown as Application, logger: log.logger, write: (c) => (chunks.push(c), true) });
    node.handleLine(call({ msgId: 1 }), 1);
    node.handleLine(stats(2), 2);
    await node.whenIdle();
    expect(chunks.join("")).to.include('"in_reply_to": 2');
    expect(log.records().filter((r) => r["msg"] === "internal error handling a message; skipped").map((r) => r["line"])).to.deep.equal([1]);
  });

  it("takes __proto__ and constructor keys as plain data, in the envelope, body, metadata and request", async () => {
    const { feed } = stdioHost();
    const hostile = '{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}, "src": "c1", "dest": "n1", "body": {"__proto__": {"type": "init"}, "type": "grpc_call", "msg_id": 1, "service": "KeyValue", "method": "Put", "request": {"__proto__": {"key": "x"}, "key": "__proto__", "value": "constructor"}, "metadata": {"__proto__": {"authorization": "Bearer valid_token"}, "constructor": "x", "authorization": "Bearer valid_token"}}}';
    const get = '{"src": "c1", "dest": "n1", "body": {"type": "grpc_call", "msg_id": 2, "service": "KeyValue", "method": "Get", "request": {"key": "__proto__"}, "metadata": {"authorization": "Bearer valid_token"}}}';
    const proto = '{"src": "c1", "dest": "n1", "body": {"type": "grpc_call", "msg_id": 3, "service": "KeyValue", "method": "Get", "request": {"key": "k"}, "metadata": {"__proto__": {"authorization": "Bearer valid_token"}}}}';
    const out = await feed([hostile, get, proto]);
    expect(out.map((l) => parseReply(l).body["status"])).to.deep.equal(["OK", "OK", "UNAUTHENTICATED"]);
    expect(parseReply(out[1] ?? "").body["response"]).to.deep.equal({ key: "__proto__", value: "constructor", found: true });
    expect(({} as Record<string, unknown>)["polluted"]).to.equal(undefined);
  });
});
