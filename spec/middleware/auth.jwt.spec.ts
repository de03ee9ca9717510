import { expect } from "chai";
import { Application } from "../../lib/core/application.js";
import { CallContext } from "../../lib/core/context.js";
import { Status } from "../../lib/core/status.js";
import { type AuthOptions, type AuthState, auth } from "../../middleware/auth.js";
import { logging } from "../../middleware/logging.js";
import { captureLogger } from "../support/log-capture.js";
import { type JwksServer, serveJwks, signToken, type TestKey, testKey } from "../support/jwt-keys.js";

const SECRET = "a-secret-of-at-least-thirty-two-bytes!!";
const secretBytes = new TextEncoder().encode(SECRET);

/** Runs one call with `token` through logging (at `level`) and auth; the logged text comes back too. */
async function call(options: AuthOptions, token: string | undefined, level: "trace" | "info" = "trace") {
  const log = captureLogger(level);
  let reached = false;
  const app = new Application({ onError: () => {} })
    .use(logging({ logger: log.logger }))
    .use(auth(options))
    .handle(() => void (reached = true));
  const ctx = new CallContext<Partial<AuthState>>({ service: "KeyValue", method: "Get", request: {}, metadata: token === undefined ? {} : { authorization: `Bearer ${token}` }, peer: "c1" });
  await app.run(ctx as CallContext<AuthState>);
  return { ctx, reached, text: log.lines.join(""), records: log.records() };
}

describe("auth({ jwt })", () => {
  let rsa: TestKey;
  before(async () => {
    rsa = await testKey("RS256");
  });

  it("accepts a valid JWT and puts its principal into ctx.state", async () => {
    const token = await signToken(rsa.privateKey, { alg: "RS256", subject: "alice", audience: "kv" }, { scope: "kv:read" });
    const { ctx, reached } = await call({ jwt: { publicKey: rsa.publicPem, audience: "kv" } }, token);
    expect(ctx.status).to.equal(Status.OK);
    expect(reached).to.equal(true);
    expect(ctx.state.principal).to.include({ subject: "alice", scheme: "jwt" });
    expect(ctx.state.principal?.scopes).to.deep.equal(["kv:read"]);
  });

  it("ends a refused JWT with UNAUTHENTICATED at auth; the reason is logged at debug, the token at no level", async () => {
    const token = await signToken(rsa.privateKey, { alg: "RS256", audience: "other" });
    const { ctx, reached, text, records } = await call({ jwt: { publicKey: rsa.publicPem, audience: "kv" } }, token);
    expect(ctx.status).to.equal(Status.UNAUTHENTICATED);
    expect(ctx.interceptorFailed).to.equal("auth");
    expect(reached).to.equal(false);
    expect(records[0]?.["error"]).to.deep.equal({ message: "invalid bearer token", reason: "ERR_JWT_CLAIM_VALIDATION_FAILED (aud)" });
    for (const part of token.split(".")) expect(text).not.to.include(part);
  });

  it("accepts static tokens and JWTs side by side; a static token's principal names its scopes", async () => {
    const options: AuthOptions = { tokens: new Map([["ci-token", { subject: "ci", scopes: ["kv:read"] }]]), jwt: { secret: SECRET } };
    const jwt = await signToken(secretBytes, { alg: "HS256", subject: "dave" });
    expect((await call(options, "ci-token")).ctx.state.principal).to.include({ subject: "ci", scheme: "bearer" });
    expect((await call(options, "ci-token")).ctx.state.principal?.scopes).to.deep.equal(["kv:read"]);
    expect((await call(options, jwt)).ctx.state.principal).to.include({ subject: "dave", scheme: "jwt" });
    expect((await call(options, "nope")).ctx.status).to.equal(Status.UNAUTHENTICATED);
  });

  it("goes on as a tail call for a cached JWT (the principal known at once)", async () => {
    const token = await signToken(secretBytes, { alg: "HS256", subject: "erin" });
    const middleware = auth({ jwt: { secret: SECRET } });
    const app = new Application().use(middleware).handle(() => {});
    await app.run(new CallContext({ service: "S", method: "M", request: {}, metadata: { authorization: `Bearer ${token}` }, peer: "c" }));
    const ctx = new CallContext<Partial<AuthState>>({ service: "S", method: "M", request: {}, metadata: { authorization: `Bearer ${token}` }, peer: "c" });
    let sawNext: Promise<void> | undefined;
    const returned = middleware(ctx, () => (sawNext = Promise.resolve()));
    expect(returned).to.equal(sawNext);
    expect(ctx.state.principal?.subject).to.equal("erin");
  });

  describe("with a JWKS URL", () => {
    let server: JwksServer;
    afterEach(async () => server.close());

    it("ends the call with UNAVAILABLE at auth when the JWKS cannot be fetched", async () => {
      const key = await testKey("ES256", "k1");
      server = await serveJwks([key.publicJwk]);
      server.setDown(true);
      const token = await signToken(key.privateKey, { alg: "ES256", kid: "k1" });
      const { ctx, text } = await call({ jwt: { jwksUrl: server.url, allowInsecureLoopback: true } }, token);
      expect(ctx.status).to.equal(Status.UNAVAILABLE);
      expect(ctx.interceptorFailed).to.equal("auth");
      for (const part of token.split(".")) expect(text).not.to.include(part);
    });
  });

  it("throws at once without tokens or jwt", () => {
    expect(() => auth({} as AuthOptions)).to.throw(TypeError, /tokens, options.jwt/);
  });
});
