import { expect } from "chai";
import { RpcNode } from "../lib/node.js";
import { createNodeApplication } from "../lib/node-app.js";
import { captureLogger } from "./helpers/log-capture.js";
import { AUTHORIZED, call, init, parseReply, stats } from "./helpers/messages.js";

const CONFIG = { authTokens: ["valid_token"], rateLimitCapacity: 10, rateLimitRefillPerSec: 10, trustProxy: false };

/** An RpcNode over the real application, its output and logs kept in memory. */
function rpcNode(level: "info" | "debug" | "trace" = "info") {
  const log = captureLogger(level);
  const chunks: string[] = [];
  const node = new RpcNode({ app: createNodeApplication({ config: CONFIG, logger: log.logger }), logger: log.logger, write: (c) => (chunks.push(c), true) });
  const feed = async (lines: readonly string[]) => {
    lines.forEach((line, i) => node.handleLine(line, i + 1));
    await node.whenIdle();
    return chunks.join("").split("\n").filter((l) => l !== "");
  };
  return { node, log, feed };
}

describe("RpcNode.handleLine()", () => {
  it("answers init with init_ok from the new node id", async () => {
    const { node, feed } = rpcNode();
    const out = await feed([init(1, "n7")]);
    expect(out).to.deep.equal(['{"src": "n7", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}']);
    expect(node.nodeId).to.equal("n7");
    expect(node.nodeIds).to.deep.equal(["n7"]);
  });

  it("answers a call before init from the incoming dest", async () => {
    const { feed } = rpcNode();
    const out = await feed([JSON.stringify({ src: "c1", dest: "n3", body: { type: "grpc_call", msg_id: 4, service: "KeyValue", method: "Get", request: { key: "k" }, metadata: AUTHORIZED } })]);
    expect(parseReply(out[0] ?? "").src).to.equal("n3");
  });

  it("counts a call without msg_id in the stats but sends it no reply", async () => {
    const { feed } = rpcNode();
    const noMsgId = JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_call", service: "KeyValue", method: "Get", request: { key: "k" }, metadata: {} } });
    const out = await feed([noMsgId, stats(9)]);
    expect(out).to.have.length(1);
    expect(parseReply(out[0] ?? "").body).to.deep.include({ stats: { total_requests: 1, auth_failures: 1, rate_limited: 0 }, msg_id: 0 });
  });

  it("skips lines that are not JSON or not envelopes, logging their line numbers, and answers the rest", async () => {
    const { log, feed } = rpcNode();
    const out = await feed(["not json", '{"dest":"n1","body":{"type":"init","msg_id":1}}', '{"src":"c1","body":[]}', "", call({ msgId: 5 })]);
    expect(out).to.have.length(1);
    expect(parseReply(out[0] ?? "").body.in_reply_to).to.equal(5);
    const warned = log.records().filter((r) => r["level"] === 40).map((r) => r["line"]);
    expect(warned).to.deep.equal([1, 2, 3]);
  });

  it("does not echo a garbage line into the log (JSON.parse messages quote the input, bearer tokens included)", async () => {
    const { log, feed } = rpcNode("trace");
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
