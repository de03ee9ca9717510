import { expect } from "chai";
import { freePort } from "../support/redis-servers.js";
import { NodeProcess, runNode } from "../support/node-process.js";
import { call, init } from "../support/messages.js";

// What bin/node's logs may hold, at each level (SECURITY.md): never an authorization
// value, right or wrong; metadata values from debug down only; the request payload at trace
// only. Every input carries markers, and stderr is searched for them.

const TOKEN = "s3cret-token-5f2a";
const WRONG = "wrong-token-9c1e";
const METADATA_VALUE = "md-value-77b3";
const PAYLOAD = "payload-41d8";

const inputs = [
  init(),
  call({ msgId: 2, method: "Put", request: { key: `k-${PAYLOAD}`, value: PAYLOAD }, metadata: { authorization: `Bearer ${TOKEN}`, "x-trace": METADATA_VALUE } }),
  call({ msgId: 3, request: { key: `k-${PAYLOAD}` }, metadata: { Authorization: `bearer ${TOKEN}`, "x-trace": METADATA_VALUE } }),
  call({ msgId: 4, request: { key: PAYLOAD }, metadata: { authorization: `Bearer ${WRONG}`, "x-trace": METADATA_VALUE } }),
  call({ msgId: 5, request: { key: PAYLOAD }, metadata: { authorization: `Basic ${TOKEN}`, "proxy-authorization": TOKEN, cookie: TOKEN, "x-api-key": TOKEN } }),
  call({ msgId: 6, service: "Nope", request: { key: PAYLOAD }, metadata: { authorization: `Bearer ${TOKEN}`, "x-trace": METADATA_VALUE } }),
  call({ msgId: 7, method: "Put", request: { key: PAYLOAD.repeat(200), value: PAYLOAD }, metadata: { authorization: `Bearer ${TOKEN}` } }),
  // Over the metadata limits: refused with a warn line that must not quote what is over.
  call({ msgId: 8, request: { key: PAYLOAD }, metadata: { authorization: `Bearer ${TOKEN}`, "x-trace": METADATA_VALUE.repeat(1000) } }),
  call({ msgId: 9, request: { key: PAYLOAD }, metadata: { authorization: `Bearer ${TOKEN}`, ...Object.fromEntries(Array.from({ length: 70 }, (_, i) => [`x-${i}`, METADATA_VALUE])) } }),
  // Not JSON, not an envelope, an unusable msg_id: logged by line number only.
  `{"src": "c1", "body": {"metadata": {"authorization": "Bearer ${TOKEN}"}, "request": "${PAYLOAD}"`,
  `Bearer ${TOKEN} ${METADATA_VALUE} ${PAYLOAD}`,
  JSON.stringify({ src: "c1", body: "x", metadata: { authorization: `Bearer ${TOKEN}` }, request: PAYLOAD }),
  JSON.stringify({ src: "c1", dest: "n1", body: { type: "grpc_call", msg_id: [1], request: PAYLOAD, metadata: { authorization: `Bearer ${TOKEN}`, "x-trace": METADATA_VALUE } } }),
];

describe("bin/node logs (security)", function () {
  this.timeout(30_000);

  for (const [level, metadataAllowed, payloadAllowed] of [
    ["trace", true, true],
    ["debug", true, false],
    ["info", false, false],
    ["warn", false, false],
  ] as const) {
    it(`at LOG_LEVEL=${level}: never an authorization value; metadata values ${metadataAllowed ? "allowed" : "never"}; the request payload ${payloadAllowed ? "allowed" : "never"}`, async () => {
      const run = await runNode(inputs, { env: { LOG_LEVEL: level, AUTH_TOKENS: TOKEN } });
      expect(run.code).to.equal(0);
      expect(run.lines).to.have.length(9);
      expect(run.stderr.length, "something was logged").to.be.greaterThan(0);
      expect(run.stderr).not.to.include(TOKEN);
      expect(run.stderr).not.to.include(WRONG);
      if (!metadataAllowed) expect(run.stderr).not.to.include(METADATA_VALUE);
      if (!payloadAllowed) expect(run.stderr).not.to.include(PAYLOAD);
      if (payloadAllowed) expect(run.stderr, "the markers work: trace does log the payload").to.include(PAYLOAD);
      if (metadataAllowed) expect(run.stderr, "the markers work: debug does log metadata").to.include(METADATA_VALUE);
    });
  }

  it("never logs a REDIS_URL password, in the URL or as ?password= (which ioredis reads as one)", async function () {
    this.timeout(15_000);
    const port = await freePort();
    const node = NodeProcess.start({ env: { LOG_LEVEL: "debug", REDIS_URL: `redis://app:pw-in-url-3e1@127.0.0.1:${port}/0?password=pw-in-query-8a2&family=4` } });
    node.writeLines([init()]);
    await node.waitForLines(1, 10_000);
    node.end();
    expect((await node.exited(10_000)).code).to.equal(0);
    const started = node.logRecords.find((r) => r["msg"] === "started");
    expect((started?.["config"] as { redisUrl?: string } | undefined)?.redisUrl).to.equal(`redis://app:REDACTED@127.0.0.1:${port}/0?password=REDACTED&family=4`);
    expect(node.stderr).not.to.include("pw-in-url-3e1");
    expect(node.stderr).not.to.include("pw-in-query-8a2");
  });
});
