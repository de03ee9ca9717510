// JWT authentication and a per-method policy in the gRPC host: bin/node --listen as a child process,
// configured as an operator does it (JWT_* and a POLICY file), called by a bare grpc-js client with
// tokens signed at test time. The same settings are specced for stdio and Koa in policy.spec.ts.
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bareClient, type BareClient, bearer, grpc, readAll, richStatus, unary } from "../support/bare-grpc.js";
import { type GrpcNode, startGrpcNode } from "../support/grpc-node.js";
import { signToken } from "../support/jwt-keys.js";

const SECRET = "an-hs256-secret-of-at-least-32-bytes";
const secretBytes = new TextEncoder().encode(SECRET);
const ISSUER = "https://id.example";
const AUDIENCE = "kv";
const POLICY = { "KeyValue/Put": ["kv:write"], "KeyValue/*": ["kv:read"] };

const jwt = (scope: string, extra: Partial<Parameters<typeof signToken>[1]> = {}) =>
  signToken(secretBytes, { alg: "HS256", issuer: ISSUER, audience: AUDIENCE, subject: "alice", ...extra }, { scope });

/** An unsecured JWS (`alg: none`, empty signature) with claims that would otherwise pass. */
function unsignedToken(scope: string): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  return `${part({ alg: "none", typ: "JWT" })}.${part({ iss: ISSUER, aud: AUDIENCE, sub: "mallory", scope, iat: now, exp: now + 3600 })}.`;
}

// One node serves every spec of this describe; they run in order and share its store and its log.
describe("bin/node --listen with JWT_* and a POLICY file, called by a bare grpc-js client", function () {
  this.timeout(20_000);
  let dir: string;
  let served: GrpcNode;
  let client: BareClient;
  let tokens: { writer: string; reader: string; expired: string; otherAudience: string; unsigned: string };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "grpc-policy-"));
    const policyFile = join(dir, "policy.json");
    writeFileSync(policyFile, JSON.stringify(POLICY));
    tokens = {
      writer: await jwt("kv:read kv:write"),
      reader: await jwt("kv:read"),
      expired: await jwt("kv:read kv:write", { exp: Math.floor(Date.now() / 1000) - 3600 }),
      otherAudience: await jwt("kv:read kv:write", { audience: "billing" }),
      unsigned: unsignedToken("kv:read kv:write"),
    };
    served = await startGrpcNode({ JWT_SECRET: SECRET, JWT_ISSUER: ISSUER, JWT_AUDIENCE: AUDIENCE, POLICY: policyFile, LOG_LEVEL: "trace" });
    client = bareClient(served.target);
  });
  after(() => {
    client?.close();
    if (served !== undefined && !served.node.closed) served.node.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("a token with kv:read and kv:write: Put and Get OK", async () => {
    expect((await unary(client, "Put", { key: "k1", value: "v1" }, bearer(tokens.writer))).response).to.deep.equal({ written: true });
    expect((await unary(client, "Get", { key: "k1" }, bearer(tokens.writer))).response).to.deep.equal({ key: "k1", value: "v1", found: true });
  });

  it("a token with only kv:read: Get OK, Put PERMISSION_DENIED", async () => {
    expect((await unary(client, "Get", { key: "k1" }, bearer(tokens.reader))).response).to.deep.equal({ key: "k1", value: "v1", found: true });
    const put = await unary(client, "Put", { key: "k1", value: "v2" }, bearer(tokens.reader));
    expect([put.error?.code, put.error?.details]).to.deep.equal([grpc.status.PERMISSION_DENIED, "permission denied: needs scope kv:write"]);
    // The missing scope, for a program: google.rpc.ErrorInfo in grpc-status-details-bin.
    expect(richStatus(put.error!)?.details["google.rpc.ErrorInfo"]).to.deep.equal({ reason: "INSUFFICIENT_SCOPE", domain: "rpc-interceptors.authorize", metadata: { scope: "kv:write" } });
    // The refused Put wrote nothing.
    expect((await unary(client, "Get", { key: "k1" }, bearer(tokens.reader))).response).to.include({ value: "v1" });
  });

  it("an expired, a wrong-audience, an alg:none and a missing token: UNAUTHENTICATED", async () => {
    const refused = { expired: tokens.expired, otherAudience: tokens.otherAudience, unsigned: tokens.unsigned, none: undefined };
    for (const [name, token] of Object.entries(refused)) {
      const outcome = await unary(client, "Get", { key: "k1" }, bearer(token));
      expect(outcome.error?.code, name).to.equal(grpc.status.UNAUTHENTICATED);
    }
  });

  it("refuses the default static token valid_token once a JWT setting is configured", async () => {
    expect((await unary(client, "Get", { key: "k1" }, bearer("valid_token"))).error?.code).to.equal(grpc.status.UNAUTHENTICATED);
  });

  it("Scan (server stream) answers a kv:read token and refuses one without a token", async () => {
    await unary(client, "Put", { key: "k2", value: "v2" }, bearer(tokens.writer));
    const scanned = await readAll(client["Scan"]!({ prefix: "k" }, bearer(tokens.reader)) as grpc.ClientReadableStream<unknown>);
    expect(scanned.error).to.equal(undefined);
    expect(scanned.messages).to.deep.equal([
      { key: "k1", value: "v1" },
      { key: "k2", value: "v2" },
    ]);
    const anonymous = await readAll(client["Scan"]!({ prefix: "k" }, bearer(undefined)) as grpc.ClientReadableStream<unknown>);
    expect([anonymous.messages, anonymous.error?.code]).to.deep.equal([[], grpc.status.UNAUTHENTICATED]);
  });

  it("logs the refusing interceptor and the reason of each refused token, and no part of any token, at trace", async () => {
    served.node.kill("SIGTERM");
    expect((await served.node.exited()).code).to.equal(0);
    const reasons = served.node.logRecords.map((r) => (r["error"] as { reason?: string } | undefined)?.reason).filter((reason) => reason !== undefined);
    expect(reasons).to.include.members(["ERR_JWT_EXPIRED (exp)", "ERR_JWT_CLAIM_VALIDATION_FAILED (aud)", "ERR_JOSE_ALG_NOT_ALLOWED"]);
    const failed = served.node.logRecords.filter((r) => r["msg"] === "call" && r["failed"] !== undefined).map((r) => [r["method"], r["status"], r["failed"]]);
    expect(failed).to.deep.include(["Put", "PERMISSION_DENIED", "authorize"]);
    expect(failed).to.deep.include(["Get", "UNAUTHENTICATED", "auth"]);
    for (const token of Object.values(tokens)) for (const part of token.split(".").filter((p) => p !== "")) expect(served.node.stderr).not.to.include(part);
    expect(served.node.stderr).not.to.include(SECRET);
  });
});
