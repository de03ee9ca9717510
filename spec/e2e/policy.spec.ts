// JWT authentication, a per-method policy, weighted limits and faults, configured as an operator
// does it: bin/node as a child process (flags, environment, --config) and Koa on a real port.
import { expect } from "chai";
import Koa from "koa";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { auth, authorize, logging, rateLimit } from "../../index.js";
import { capturedLogger, serve } from "../support/koa-server.js";
import { type JwksServer, serveJwks, signToken, type TestKey, testKey } from "../support/jwt-keys.js";
import { call, init, parseReply, stats } from "../support/messages.js";
import { runNode } from "../support/node-process.js";

const SECRET = "an-hs256-secret-of-at-least-32-bytes";
const secretBytes = new TextEncoder().encode(SECRET);
const ISSUER = "https://id.example";
const AUDIENCE = "kv";
const POLICY = { "KeyValue/Put": ["kv:write"], "KeyValue/*": ["kv:read"] };

const bodies = (lines: readonly string[]) => lines.map((line) => parseReply(line).body);
const jwt = (scope: string, extra: Partial<Parameters<typeof signToken>[1]> = {}) =>
  signToken(secretBytes, { alg: "HS256", issuer: ISSUER, audience: AUDIENCE, subject: "alice", ...extra }, { scope });
const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("bin/node with JWT and a policy", function () {
  this.timeout(20_000);
  let dir: string;
  let policyFile: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "policy-"));
    policyFile = join(dir, "policy.json");
    writeFileSync(policyFile, JSON.stringify(POLICY));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const env = (more: Record<string, string> = {}) => ({ JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, POLICY: policyFile, LOG_LEVEL: "trace", ...more });

  it("authenticates, authorizes per method, names authorize when it refuses, and logs no token at trace", async () => {
    const reader = await jwt("kv:read");
    const writer = await jwt("kv:read kv:write");
    const expired = await jwt("kv:read kv:write", { exp: Math.floor(Date.now() / 1000) - 3600 });
    const run = await runNode(
      [
        init(),
        call({ msgId: 2, metadata: bearer(reader) }),
        // Another key than the Get's: calls overlap while their JWTs are verified (work may
        // overlap, replies keep their order), so the writer's Put may land before the Get.
        call({ msgId: 3, method: "Put", request: { key: "p", value: "v" }, metadata: bearer(reader) }),
        call({ msgId: 4, method: "Put", request: { key: "p", value: "v" }, metadata: bearer(writer) }),
        call({ msgId: 5, metadata: bearer("valid_token") }),
        call({ msgId: 6, metadata: bearer(expired) }),
        call({ msgId: 7, metadata: {} }),
        stats(8),
      ],
      { env: env() },
    );
    expect(run.code).to.equal(0);
    const [, get, put, written, seedToken, old, none, counted] = bodies(run.lines);
    expect(get).to.include({ status: "NOT_FOUND" });
    expect(get?.["interceptors_applied"]).to.deep.equal(["logging", "auth", "authorize", "rate_limit"]);
    expect(put).to.deep.equal({ type: "grpc_call_ok", in_reply_to: 3, status: "PERMISSION_DENIED", interceptor_failed: "authorize", msg_id: 2 });
    expect(written).to.include({ status: "OK" });
    // The default static token is gone once a JWT key is configured.
    expect(seedToken).to.include({ status: "UNAUTHENTICATED", interceptor_failed: "auth" });
    expect(old).to.include({ status: "UNAUTHENTICATED", interceptor_failed: "auth" });
    expect(none).to.include({ status: "UNAUTHENTICATED", interceptor_failed: "auth" });
    expect(counted?.["stats"]).to.deep.equal({ total_requests: 6, auth_failures: 3, rate_limited: 0 });
    for (const token of [reader, writer, expired]) for (const part of token.split(".")) expect(run.stderr).not.to.include(part);
    expect(run.stderr).not.to.include(SECRET);
    expect(run.logRecords.some((r) => (r["error"] as { reason?: string } | undefined)?.reason === "ERR_JWT_EXPIRED (exp)")).to.equal(true);
  });

  it("lets public methods through without a token", async () => {
    const run = await runNode([init(), call({ msgId: 2, service: "Health", method: "Check", metadata: {} })], { env: env({ PUBLIC_METHODS: "Health/*", POLICY: "" }) });
    expect(bodies(run.lines)[1]).to.include({ status: "UNIMPLEMENTED" });
    expect(bodies(run.lines)[1]?.["interceptors_applied"]).to.deep.equal(["logging", "rate_limit"]);
  });

  it("shows the policy per method in --describe", async () => {
    const run = await runNode([], { args: ["--describe"], env: env() });
    expect(run.code).to.equal(0);
    expect(run.stdout).to.match(/\n {2}KeyValue\/Put +logging -> auth -> authorize -> rate_limit -> handler\n/);
    expect(run.stdout).to.include("authorize: KeyValue/Put: scopes kv:write; KeyValue/*: scopes kv:read\n");
  });

  it("refuses a bad setting before it starts, with exit 2", async () => {
    const short = await runNode([], { env: { JWT_SECRET: "short" } });
    expect(short.code).to.equal(2);
    expect(short.stderr).to.include("at least 32 bytes");
    expect(short.stderr).not.to.include("short\n");
    expect((await runNode([], { env: { JWT_ISSUER: ISSUER } })).stderr).to.include("need a JWT key");
    expect((await runNode([], { env: { JWT_SECRET: SECRET, JWT_ALGORITHMS: "none" } })).code).to.equal(2);
  });

  describe("with a JWKS URL (http on loopback, allowed for the test)", () => {
    let server: JwksServer;
    let key: TestKey;
    before(async () => {
      key = await testKey("RS256", "k1");
      server = await serveJwks([key.publicJwk]);
    });
    after(() => server.close());

    it("fetches the JWKS once for many calls, and refuses plain http without the flag", async () => {
      const token = await signToken(key.privateKey, { alg: "RS256", kid: "k1", subject: "bob" });
      const input = [init(), ...Array.from({ length: 5 }, (_, i) => call({ msgId: i + 2, metadata: bearer(token) }))];
      const run = await runNode(input, { env: { JWT_JWKS: server.url, JWT_JWKS_HTTP_LOOPBACK: "1" } });
      expect(bodies(run.lines).slice(1).map((b) => b["status"])).to.deep.equal(["NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", "NOT_FOUND"]);
      expect(server.hits).to.equal(1);
      const refused = await runNode([], { env: { JWT_JWKS: server.url } });
      expect(refused.code).to.equal(2);
      expect(refused.stderr).to.include("https");
    });
  });

  it("sends retry_after_ms on the wire only with --wire-retry-after", async () => {
    const input = [init(), call({ msgId: 2 }), call({ msgId: 3 })];
    const limits = { RATE_LIMIT_CAPACITY: "1", RATE_LIMIT_REFILL_PER_SEC: "0.5" };
    const plain = bodies((await runNode(input, { env: limits })).lines)[2];
    expect(plain).to.deep.equal({ type: "grpc_call_ok", in_reply_to: 3, status: "RESOURCE_EXHAUSTED", interceptor_failed: "rate_limit", msg_id: 2 });
    const hinted = bodies((await runNode(input, { env: limits, args: ["--wire-retry-after"] })).lines)[2];
    expect(Object.keys(hinted ?? {})).to.deep.equal(["type", "in_reply_to", "status", "interceptor_failed", "retry_after_ms", "msg_id"]);
    expect(hinted?.["retry_after_ms"]).to.be.within(1900, 2000);
  });

  it("reads weighted limits, faults and redaction from --config; flags and the environment win over it", async () => {
    const config = join(dir, "node.json");
    writeFileSync(
      config,
      JSON.stringify({
        "auth-tokens": { "tok-1": { subject: "ci", scopes: ["kv:read", "kv:write"] } },
        "rate-limits": [{ name: "per-principal", key: "principal", capacity: 10, refillPerSecond: 0.001, cost: { "KeyValue/Put": 4 } }],
        faults: [{ methods: "KeyValue/Delete", abort: "UNAVAILABLE" }],
        redact: ["request.value"],
        "log-level": "trace",
      }),
    );
    const put = (msgId: number) => call({ msgId, method: "Put", request: { key: "k", value: "SECRET-VALUE" }, metadata: bearer("tok-1") });
    const run = await runNode([init(), put(2), put(3), put(4), call({ msgId: 5, metadata: bearer("tok-1") }), call({ msgId: 6, method: "Delete", metadata: bearer("tok-1") })], { args: ["--config", config] });
    expect(run.code).to.equal(0);
    expect(bodies(run.lines).slice(1).map((b) => [b["status"], b["interceptor_failed"]])).to.deep.equal([
      ["OK", undefined],
      ["OK", undefined],
      ["RESOURCE_EXHAUSTED", "rate_limit"],
      ["OK", undefined],
      ["UNAVAILABLE", "faults"],
    ]);
    expect(bodies(run.lines)[1]?.["interceptors_applied"]).to.deep.equal(["logging", "faults", "auth", "rate_limit"]);
    expect(run.stderr).to.include('"request":{"key":"k","value":"[REDACTED]"}');
    expect(run.stderr).not.to.include("SECRET-VALUE");
    // LOG_LEVEL beats the file's log-level.
    const quiet = await runNode([init()], { args: ["--config", config], env: { LOG_LEVEL: "warn" } });
    expect(quiet.stderr).to.equal("");
  });
});

describe("auth({ jwt }) and authorize() in a Koa app", () => {
  it("answers 401 for a bad JWT, 403 with insufficient_scope for a missing scope, 200 otherwise", async () => {
    const app = new Koa();
    app.use(logging({ logger: capturedLogger("info").logger }));
    app.use(auth({ jwt: { secret: SECRET, issuer: ISSUER, audience: AUDIENCE } }));
    app.use(authorize({ policy: { "kv/*": ["kv:read"], "kv/put": ["kv:write"] } }));
    app.use(rateLimit({ capacity: 100, refillPerSecond: 100 }));
    app.use(async (ctx) => {
      ctx.body = { subject: (ctx.state as { principal?: { subject: string } }).principal?.subject };
    });
    const served = await serve(app);
    try {
      const reader = await jwt("kv:read");
      const ok = await fetch(`${served.url}/kv/get`, { headers: bearer(reader) });
      expect(ok.status).to.equal(200);
      expect(await ok.json()).to.deep.equal({ subject: "alice" });
      const denied = await fetch(`${served.url}/kv/put`, { headers: bearer(reader) });
      expect(denied.status).to.equal(403);
      expect(denied.headers.get("www-authenticate")).to.equal('Bearer error="insufficient_scope", scope="kv:write"');
      expect(denied.headers.get("ratelimit-remaining")).to.equal(null);
      const forged = await fetch(`${served.url}/kv/get`, { headers: bearer(`${reader}x`) });
      expect(forged.status).to.equal(401);
      expect(forged.headers.get("www-authenticate")).to.equal('Bearer error="invalid_token"');
    } finally {
      await served.close();
    }
  });
});
