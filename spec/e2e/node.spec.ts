import { expect } from "chai";
import { NodeProcess, type Run, runNode } from "../support/node-process.js";
import { AUTHORIZED, call, init, parseReply, type Reply, stats } from "../support/messages.js";

// End to end: the real bin/node as a child process, as the test runner starts it. Expected
// lines are written out in full where the bytes matter (Python's json.dumps form).

const INIT_OK = '{"src": "n1", "dest": "c0", "body": {"type": "init_ok", "in_reply_to": 1, "msg_id": 0}}';
const APPLIED = '"interceptors_applied": ["logging", "auth", "rate_limit"]';

/** Fails unless every stdout line is a JSON object (stdout carries protocol messages only). */
function expectOnlyJsonLines(run: Pick<Run, "stdout">): void {
  expect(run.stdout === "" || run.stdout.endsWith("\n"), "stdout ends with a newline").to.equal(true);
  for (const line of run.stdout.split("\n").slice(0, -1)) {
    expect(() => parseReply(line), `stdout line is not a JSON object: ${line.slice(0, 200)}`).not.to.throw();
  }
}

/** Fails unless the replies are numbered 0, 1, 2, ... in output order. */
function expectConsecutiveMsgIds(replies: readonly Reply[]): void {
  replies.forEach((reply, i) => expect(reply.body.msg_id, `msg_id of reply ${i}`).to.equal(i));
}

/** The log records (stderr) with the given msg. */
function logsSaying(run: Pick<Run, "logRecords">, msg: string): Record<string, unknown>[] {
  return run.logRecords.filter((record) => record["msg"] === msg);
}

describe("bin/node (end to end)", () => {
  describe("the seed cases", () => {
    it("authenticated request passes all interceptors", async () => {
      const run = await runNode([init(), call({ msgId: 2, method: "Put", request: { key: "k1", value: "v1" } })]);
      expect(run.lines).to.deep.equal([
        INIT_OK,
        `{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 2, "status": "OK", ${APPLIED}, "response": {"written": true}, "msg_id": 1}}`,
      ]);
      expect(run.code).to.equal(0);
    });

    it("missing auth token fails at auth interceptor", async () => {
      const run = await runNode([init(), call({ msgId: 2, request: { key: "k1" }, metadata: {} })]);
      expect(run.lines).to.deep.equal([
        INIT_OK,
        '{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 2, "status": "UNAUTHENTICATED", "interceptor_failed": "auth", "msg_id": 1}}',
      ]);
    });

    it("put, get, unauthenticated get, stats", async () => {
      const run = await runNode([
        init(),
        call({ msgId: 2, method: "Put", request: { key: "k1", value: "v1" } }),
        call({ msgId: 3, request: { key: "k1" } }),
        call({ msgId: 4, request: { key: "k1" }, metadata: {} }),
        stats(5),
      ]);
      expect(run.lines).to.deep.equal([
        INIT_OK,
        `{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 2, "status": "OK", ${APPLIED}, "response": {"written": true}, "msg_id": 1}}`,
        `{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 3, "status": "OK", ${APPLIED}, "response": {"key": "k1", "value": "v1", "found": true}, "msg_id": 2}}`,
        '{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 4, "status": "UNAUTHENTICATED", "interceptor_failed": "auth", "msg_id": 3}}',
        '{"src": "n1", "dest": "c1", "body": {"type": "grpc_interceptor_stats_ok", "in_reply_to": 5, "stats": {"total_requests": 3, "auth_failures": 1, "rate_limited": 0}, "msg_id": 4}}',
      ]);
      expect(run.code).to.equal(0);
    });
  });

  describe("auth", () => {
    const unauthenticated = (inReplyTo: number, msgId: number): string =>
      `{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": ${inReplyTo}, "status": "UNAUTHENTICATED", "interceptor_failed": "auth", "msg_id": ${msgId}}}`;

    it("refuses a wrong token, a wrong scheme (Basic) and a bare token", async () => {
      const run = await runNode([
        init(),
        call({ msgId: 2, metadata: { authorization: "Bearer wrong_token" } }),
        call({ msgId: 3, metadata: { authorization: "Basic valid_token" } }),
        call({ msgId: 4, metadata: { authorization: "valid_token" } }),
        call({ msgId: 5, metadata: { authorization: "Bearer VALID_TOKEN" } }),
      ]);
      expect(run.lines).to.deep.equal([INIT_OK, unauthenticated(2, 1), unauthenticated(3, 2), unauthenticated(4, 3), unauthenticated(5, 4)]);
    });

    it("matches the metadata key and the Bearer scheme in any case", async () => {
      const run = await runNode([init(), call({ msgId: 2, metadata: { AUTHORIZATION: "bearer valid_token" } }), call({ msgId: 3, metadata: { Authorization: "BEARER valid_token" } })]);
      expect(run.lines.slice(1).map((l) => parseReply(l).body["status"])).to.deep.equal(["NOT_FOUND", "NOT_FOUND"]);
    });

    it("takes its tokens from AUTH_TOKENS", async () => {
      const run = await runNode([init(), call({ msgId: 2, metadata: { authorization: "Bearer other" } }), call({ msgId: 3 })], { env: { AUTH_TOKENS: "other,third" } });
      expect(run.lines.slice(1).map((l) => parseReply(l).body["status"])).to.deep.equal(["NOT_FOUND", "UNAUTHENTICATED"]);
    });
  });

  describe("rate_limit", () => {
    it("lets a burst of 15 from one client through 10 at a time while another client passes", async () => {
      const input = [init()];
      for (let i = 0; i < 15; i++) input.push(call({ msgId: 100 + i, src: "c1" }));
      for (let i = 0; i < 3; i++) input.push(call({ msgId: 200 + i, src: "c2" }));
      const run = await runNode(input);
      const replies = run.lines.map(parseReply);
      expect(replies).to.have.length(19);
      const burst = replies.filter((r) => r.dest === "c1").map((r) => [r.body.in_reply_to, r.body["status"], r.body["interceptor_failed"]]);
      expect(burst).to.deep.equal([
        ...Array.from({ length: 10 }, (_, i) => [100 + i, "NOT_FOUND", undefined]),
        ...Array.from({ length: 5 }, (_, i) => [110 + i, "RESOURCE_EXHAUSTED", "rate_limit"]),
      ]);
      expect(replies.filter((r) => r.dest === "c2").map((r) => r.body["status"])).to.deep.equal(["NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);
      expect(run.lines[11]).to.equal('{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 110, "status": "RESOURCE_EXHAUSTED", "interceptor_failed": "rate_limit", "msg_id": 11}}');
    });

    it("spends no tokens on calls auth refused", async () => {
      const input = [init()];
      for (let i = 0; i < 20; i++) input.push(call({ msgId: 100 + i, metadata: {} }));
      for (let i = 0; i < 10; i++) input.push(call({ msgId: 200 + i }));
      const run = await runNode(input);
      const statuses = run.lines.slice(21).map((l) => parseReply(l).body["status"]);
      expect(statuses).to.deep.equal(Array.from({ length: 10 }, () => "NOT_FOUND"));
    });

    it("ignores invented x-forwarded-for addresses unless TRUST_PROXY=1", async () => {
      const input = [init()];
      for (let i = 0; i < 12; i++) input.push(call({ msgId: 100 + i, metadata: { ...AUTHORIZED, "x-forwarded-for": `10.0.0.${i}` } }));
      const limited = (run: Run): number => run.lines.filter((l) => parseReply(l).body["status"] === "RESOURCE_EXHAUSTED").length;
      expect(limited(await runNode(input))).to.equal(2);
      expect(limited(await runNode(input, { env: { TRUST_PROXY: "1" } }))).to.equal(0);
    });
  });

  describe("stats", () => {
    it("counts every call, those auth refused and those the rate limiter refused", async () => {
      const input = [init(), call({ msgId: 2 }), call({ msgId: 3, method: "Nope" }), call({ msgId: 4, metadata: {} }), call({ msgId: 5, metadata: { authorization: "Basic x" } })];
      for (let i = 0; i < 12; i++) input.push(call({ msgId: 100 + i, src: "c3" }));
      input.push(stats(6));
      const run = await runNode(input);
      expect(run.lines.at(-1)).to.equal(
        '{"src": "n1", "dest": "c1", "body": {"type": "grpc_interceptor_stats_ok", "in_reply_to": 6, "stats": {"total_requests": 16, "auth_failures": 2, "rate_limited": 2}, "msg_id": 17}}',
      );
    });

    it("counts only the calls answered before the stats request", async () => {
      const run = await runNode([init(), stats(2), call({ msgId: 3 }), stats(4)]);
      const counts = run.lines.map(parseReply).filter((r) => r.body.type === "grpc_interceptor_stats_ok").map((r) => r.body["stats"]);
      expect(counts).to.deep.equal([
        { total_requests: 0, auth_failures: 0, rate_limited: 0 },
        { total_requests: 1, auth_failures: 0, rate_limited: 0 },
      ]);
    });
  });

  describe("KeyValue outcomes", () => {
    it("answers NOT_FOUND with a response for a missing key", async () => {
      const run = await runNode([init(), call({ msgId: 2, request: { key: "nope" } })]);
      expect(run.lines[1]).to.equal(`{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 2, "status": "NOT_FOUND", ${APPLIED}, "response": {"key": "nope", "found": false}, "msg_id": 1}}`);
    });

    it("answers UNIMPLEMENTED, without a response, for an unknown service or method", async () => {
      const run = await runNode([init(), call({ msgId: 2, service: "Nope" }), call({ msgId: 3, method: "Scan" }), call({ msgId: 4, method: "toString" })]);
      expect(run.lines.slice(1)).to.deep.equal([2, 3, 4].map((id, i) => `{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": ${id}, "status": "UNIMPLEMENTED", ${APPLIED}, "msg_id": ${i + 1}}}`));
    });

    it("answers INVALID_ARGUMENT, without a response, for a bad request", async () => {
      const run = await runNode([
        init(),
        call({ msgId: 2, request: "k1" }),
        call({ msgId: 3, request: {} }),
        call({ msgId: 4, request: { key: 7 } }),
        call({ msgId: 5, method: "Put", request: { key: "k" } }),
        call({ msgId: 6, method: "Put", request: [1, 2] }),
        call({ msgId: 7, request: null }),
      ]);
      expect(run.lines.slice(1)).to.deep.equal([2, 3, 4, 5, 6, 7].map((id, i) => `{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": ${id}, "status": "INVALID_ARGUMENT", ${APPLIED}, "msg_id": ${i + 1}}}`));
    });

    it("round-trips non-ASCII keys and values as Python would print them", async () => {
      const run = await runNode([init(), call({ msgId: 2, method: "Put", request: { key: "cl\u00e9", value: "\u{1f600}\u65e5" } }), call({ msgId: 3, request: { key: "cl\u00e9" } })]);
      expect(run.lines[2]).to.equal(`{"src": "n1", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 3, "status": "OK", ${APPLIED}, "response": {"key": "cl\\u00e9", "value": "\\ud83d\\ude00\\u65e5", "found": true}, "msg_id": 2}}`);
    });
  });

  describe("the protocol", () => {
    it("answers an unknown message type with Maelstrom error 10", async () => {
      const run = await runNode([init(), JSON.stringify({ src: "c1", dest: "n1", body: { type: "echo", msg_id: 2, echo: "hi" } })]);
      expect(run.lines).to.deep.equal([INIT_OK, '{"src": "n1", "dest": "c1", "body": {"type": "error", "in_reply_to": 2, "code": 10, "text": "unsupported message type: echo", "msg_id": 1}}']);
    });

    it("skips lines that are not JSON or not envelopes, logs their line numbers, and answers what follows", async () => {
      const run = await runNode([init(), "this is not json", "[1, 2", '{"dest": "n1", "body": {"type": "grpc_call", "msg_id": 9}}', '{"src": "c1", "body": "nope"}', "42", call({ msgId: 2 })]);
      expect(run.lines).to.have.length(2);
      expect(parseReply(run.lines[1] ?? "").body).to.deep.include({ in_reply_to: 2, status: "NOT_FOUND", msg_id: 1 });
      const skipped = run.logRecords.filter((r) => typeof r["msg"] === "string" && r["msg"].endsWith("skipped")).map((r) => r["line"]);
      expect(skipped).to.deep.equal([2, 3, 4, 5, 6]);
      expect(run.code).to.equal(0);
    });

    it("answers a call that arrives before init from the incoming dest", async () => {
      const early = JSON.stringify({ src: "c1", dest: "n9", body: { type: "grpc_call", msg_id: 1, service: "KeyValue", method: "Get", request: { key: "k" }, metadata: AUTHORIZED } });
      const run = await runNode([early, init(2, "n1"), call({ msgId: 3 })]);
      expect(run.lines.map((l) => parseReply(l).src)).to.deep.equal(["n9", "n1", "n1"]);
      expect(run.lines[0]).to.equal(`{"src": "n9", "dest": "c1", "body": {"type": "grpc_call_ok", "in_reply_to": 1, "status": "NOT_FOUND", ${APPLIED}, "response": {"key": "k", "found": false}, "msg_id": 0}}`);
    });

    it("drops a line over MAX_LINE_BYTES, logs its number and size, and answers the next call", async () => {
      const huge = call({ msgId: 2, method: "Put", request: { key: "k", value: "x".repeat(5000) } });
      const run = await runNode([init(), huge, call({ msgId: 3, request: { key: "k" } })], { env: { MAX_LINE_BYTES: "1000" } });
      expect(run.lines).to.have.length(2);
      expect(parseReply(run.lines[1] ?? "").body).to.deep.include({ in_reply_to: 3, status: "NOT_FOUND" });
      const dropped = logsSaying(run, "input line over the size limit; dropped");
      expect(dropped).to.have.length(1);
      expect(dropped[0]).to.deep.include({ line: 2, bytes: Buffer.byteLength(huge), limit: 1000 });
    });

    it("answers the last line even without a trailing newline", async () => {
      const node = NodeProcess.start();
      node.writeRaw(`${init()}\n${call({ msgId: 2 })}`);
      node.end();
      expect((await node.exited()).code).to.equal(0);
      expect(node.lines).to.have.length(2);
    });

    it("writes only JSON lines to stdout, whatever it is fed, at every log level", async () => {
      const input = [init(), "garbage", call({ msgId: 2, metadata: {} }), call({ msgId: 3, service: "X" }), JSON.stringify({ src: "c1", body: { type: "what", msg_id: 4 } }), call({ msgId: 5 })];
      for (const level of ["trace", "info", "silent"]) {
        const run = await runNode(input, { env: { LOG_LEVEL: level } });
        expectOnlyJsonLines(run);
        expect(run.lines, level).to.have.length(5);
      }
    });
  });

  describe("the bearer token", () => {
    it("never appears on stderr, even at LOG_LEVEL=trace, whatever the calls and lines carry", async () => {
      const run = await runNode(
        [
          init(),
          call({ msgId: 2, method: "Put", request: { key: "k", value: "v" } }),
          call({ msgId: 3, metadata: { Authorization: "bearer valid_token", "x-request-id": "r1" } }),
          call({ msgId: 4, metadata: { authorization: "Basic valid_token" } }),
          call({ msgId: 5, service: "Nope" }),
          "Bearer valid_token",
          '{"src": "c1", "body": {"metadata": {"authorization": Bearer valid_token}}}',
          JSON.stringify({ src: "c1", dest: "n1", body: { type: "unknown", msg_id: 6, metadata: AUTHORIZED } }),
        ],
        { env: { LOG_LEVEL: "trace" } },
      );
      expect(run.lines).to.have.length(6);
      expect(logsSaying(run, "call").length, "the calls were logged at trace level").to.equal(4);
      expect(run.stderr).to.include("[REDACTED]");
      expect(run.stderr).not.to.include("valid_token");
    });
  });

  describe("ending", () => {
    it("drains 10,000 calls on EOF: every one answered, in order, msg_ids consecutive, exit 0", async function () {
      this.timeout(30_000);
      const input = [init()];
      for (let i = 0; i < 10_000; i++) input.push(call({ msgId: i + 2, method: "Put", request: { key: `k${i}`, value: `v${i}` } }));
      const run = await runNode(input, { env: { RATE_LIMIT_CAPACITY: "1000000", LOG_LEVEL: "warn" } });
      expect(run.code).to.equal(0);
      expect(run.lines).to.have.length(10_001);
      const replies = run.lines.map(parseReply);
      expectConsecutiveMsgIds(replies);
      replies.slice(1).forEach((reply, i) => {
        expect(reply.body.in_reply_to).to.equal(i + 2);
        expect(reply.body["status"]).to.equal("OK");
      });
    });

    it("answers everything when stdout is read slowly (stdout congested, then drained)", async function () {
      this.timeout(30_000);
      const node = NodeProcess.start({ env: { RATE_LIMIT_CAPACITY: "1000000", LOG_LEVEL: "warn" } });
      node.pauseOutput(true);
      const input = [init()];
      for (let i = 0; i < 4000; i++) input.push(call({ msgId: i + 2 }));
      node.writeLines(input);
      node.end();
      await new Promise((resolve) => setTimeout(resolve, 500));
      node.pauseOutput(false);
      expect((await node.exited(15_000)).code).to.equal(0);
      expect(node.lines).to.have.length(4001);
      expectConsecutiveMsgIds(node.lines.map(parseReply));
    });

    it("answers everything with a tiny MAX_IN_FLIGHT (stdin paused and resumed many times)", async function () {
      this.timeout(30_000);
      const input = [init()];
      for (let i = 0; i < 3000; i++) input.push(call({ msgId: i + 2 }));
      const run = await runNode(input, { env: { RATE_LIMIT_CAPACITY: "1000000", LOG_LEVEL: "warn", MAX_IN_FLIGHT: "4" } });
      expect(run.code).to.equal(0);
      expect(run.lines).to.have.length(3001);
      expectConsecutiveMsgIds(run.lines.map(parseReply));
    });

    it("on SIGTERM answers every call it has read, flushes and exits 0", async function () {
      this.timeout(30_000);
      const node = NodeProcess.start({ env: { RATE_LIMIT_CAPACITY: "1000000" } });
      const input = [init()];
      for (let i = 0; i < 20_000; i++) input.push(call({ msgId: i + 2 }));
      node.writeLines(input);
      await node.waitForLines(1);
      node.kill("SIGTERM");
      const exit = await node.exited(10_000);
      expect(exit).to.deep.equal({ code: 0, signal: null });
      const run = { stdout: node.stdout, logRecords: node.logRecords };
      expectOnlyJsonLines(run);
      const replies = node.lines.map(parseReply);
      expectConsecutiveMsgIds(replies);
      replies.slice(1).forEach((reply, i) => expect(reply.body.in_reply_to).to.equal(i + 2));
      const [stopped] = logsSaying(run, "stopped");
      expect(stopped).to.deep.include({ reason: "SIGTERM" });
      // Every complete line read was answered; a line cut by the signal is the only one skipped.
      const cut = logsSaying(run, "input line is not JSON; skipped").length;
      expect(cut).to.be.at.most(1);
      expect(stopped?.["lines"]).to.equal(replies.length + cut);
    });
  });

  describe("the command line", () => {
    it("--help lists every flag and environment variable and exits 0", async () => {
      const run = await runNode([], { args: ["--help"] });
      expect(run.code).to.equal(0);
      for (const name of ["--log-level", "--auth-tokens", "--rate-limit-capacity", "--rate-limit-refill-per-sec", "--trust-proxy", "--max-line-bytes", "--max-in-flight", "--help"]) {
        expect(run.stdout).to.include(name);
      }
      for (const name of ["LOG_LEVEL", "AUTH_TOKENS", "RATE_LIMIT_CAPACITY", "RATE_LIMIT_REFILL_PER_SEC", "TRUST_PROXY", "MAX_LINE_BYTES", "MAX_IN_FLIGHT"]) {
        expect(run.stdout).to.include(name);
      }
    });

    it("exits 2 with a clear message on an unknown flag, printing nothing on stdout", async () => {
      const run = await runNode([init()], { args: ["--bogus"] });
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal("");
      expect(run.stderr).to.match(/^bin\/node: .*'--bogus'/);
      expect(run.stderr).to.include("--help");
    });

    it("exits 2 naming the variable on a bad environment value", async () => {
      const run = await runNode([init()], { env: { RATE_LIMIT_CAPACITY: "lots" } });
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal("");
      expect(run.stderr).to.include('RATE_LIMIT_CAPACITY must be a number >= 1, got "lots"');
    });
  });
});
