import { expect } from "chai";
import { DEFAULT_CALL_LIMITS, metadataOverLimits, overBytes } from "../../lib/core/limits.js";
import { StdioHost } from "../../lib/hosts/stdio/stdio-host.js";
import { createNodeApplication } from "../../lib/app/node-app.js";
import { captureLogger } from "../support/log-capture.js";
import { AUTHORIZED } from "../support/messages.js";

describe("overBytes()", () => {
  it("counts UTF-8 bytes, not characters", () => {
    expect(overBytes("abcd", 4)).to.equal(false);
    expect(overBytes("abcde", 4)).to.equal(true);
    expect(overBytes("\u00e9\u00e9", 4)).to.equal(false);
    expect(overBytes("\u00e9\u00e9\u00e9", 5)).to.equal(true);
    expect(overBytes("\u{1f600}", 4)).to.equal(false);
    expect(overBytes("\u{1f600}", 3)).to.equal(true);
    expect(overBytes("\u65e5\u672c", 6)).to.equal(false);
    expect(overBytes("\u65e5\u672c", 5)).to.equal(true);
  });
});

describe("metadataOverLimits()", () => {
  const limits = { maxMetadataEntries: 3, maxMetadataValueBytes: 16 };

  it("lets through metadata within the limits, and anything that is not a plain object (read as none)", () => {
    expect(metadataOverLimits({ a: "1", b: "1234567890123456", "0123456789012345": 5 }, limits)).to.equal(undefined);
    for (const none of [undefined, null, "x".repeat(100), ["a", "b", "c", "d"], 5]) expect(metadataOverLimits(none, limits)).to.equal(undefined);
  });

  it("names what is over, never a value", () => {
    expect(metadataOverLimits({ a: "", b: "", c: "", d: "" }, limits)).to.equal("more than 3 metadata entries");
    expect(metadataOverLimits({ ["k".repeat(17)]: "v" }, limits)).to.equal("a metadata key over 16 bytes");
    expect(metadataOverLimits({ authorization: "Bearer s3cret-token" }, limits)).to.equal('the value of metadata key "authorization" over 16 bytes');
  });

  it("counts entries whatever their values, __proto__ and constructor keys included", () => {
    const parsed: unknown = JSON.parse('{"__proto__": {"a": 1}, "constructor": 1, "x": null, "y": []}');
    expect(metadataOverLimits(parsed, limits)).to.equal("more than 3 metadata entries");
  });

  it("defaults to 64 entries of at most 8192 bytes", () => {
    expect(DEFAULT_CALL_LIMITS).to.deep.equal({ maxMetadataEntries: 64, maxMetadataValueBytes: 8192 });
  });
});

describe("StdioHost limits", () => {
  function node(limits = { maxMetadataEntries: 4, maxMetadataValueBytes: 32 }) {
    const log = captureLogger("trace");
    const chunks: string[] = [];
    const config = { authTokens: ["valid_token"], rateLimitCapacity: 10, rateLimitRefillPerSecond: 10, trustProxy: false };
    const rpc = new StdioHost({ app: createNodeApplication({ config, logger: log.logger }), logger: log.logger, write: (c) => (chunks.push(c), true), limits });
    const call = (msgId: number, metadata: unknown): string => JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_call", msg_id: msgId, service: "KeyValue", method: "Get", request: { key: "k" }, metadata } });
    return { rpc, log, chunks, call };
  }

  it("refuses a call whose metadata is over the limits with RESOURCE_EXHAUSTED before any interceptor, counts it, and logs one line without the values", async () => {
    const { rpc, log, chunks, call } = node();
    const many = { ...AUTHORIZED, a: "1", b: "2", c: "3", d: "4" };
    const long = { authorization: `Bearer ${"t".repeat(40)}` };
    rpc.handleLine(call(1, many), 1);
    rpc.handleLine(call(2, long), 2);
    rpc.handleLine(call(3, AUTHORIZED), 3);
    rpc.handleLine(JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_interceptor_stats", msg_id: 4 } }), 4);
    await rpc.whenIdle();
    expect(chunks.join("").split("\n").filter((l) => l !== "")).to.deep.equal([
      '{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 1, "status": "RESOURCE_EXHAUSTED", "interceptors_applied": [], "msg_id": 0}}',
      '{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 2, "status": "RESOURCE_EXHAUSTED", "interceptors_applied": [], "msg_id": 1}}',
      '{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 3, "status": "NOT_FOUND", "interceptors_applied": ["logging", "auth", "rate_limit"], "response": {"key": "k", "found": false}, "msg_id": 2}}',
      '{"src": "n1", "dest": "c1", "body": {"type": "grpc_interceptor_stats_ok", "in_reply_to": 4, "stats": {"total_requests": 3, "auth_failures": 0, "rate_limited": 0}, "msg_id": 3}}',
    ]);
    const refused = log.records().filter((r) => r["msg"] === "call refused: metadata over the limits");
    expect(refused.map((r) => [r["line"], r["over"]])).to.deep.equal([
      [1, "more than 4 metadata entries"],
      [2, 'the value of metadata key "authorization" over 32 bytes'],
    ]);
    expect(log.lines.join("")).not.to.include("valid_token");
    expect(log.lines.join("")).not.to.include("tttt");
  });
});
