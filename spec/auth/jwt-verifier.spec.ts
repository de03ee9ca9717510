import { expect } from "chai";
import { JwtRejected, JwtVerifier } from "../../lib/auth/jwt-verifier.js";
import { type JwksServer, serveJwks, signToken, type TestKey, testKey, unsignedToken } from "../support/jwt-keys.js";

const ISSUER = "https://id.example";
const AUDIENCE = "kv";
const SECRET = "0123456789abcdef0123456789abcdef-secret";
const secretBytes = new TextEncoder().encode(SECRET);
const now = (): number => Math.floor(Date.now() / 1000);

/** The JwtRejected `verify` rejects with; fails the spec when it resolves. */
async function refused(verifier: JwtVerifier, token: string): Promise<JwtRejected> {
  try {
    await verifier.verify(token);
  } catch (error) {
    expect(error).to.be.instanceOf(JwtRejected);
    // Nothing of the token in the error, whatever it is.
    expect(JSON.stringify({ message: (error as Error).message, reason: (error as JwtRejected).reason })).not.to.include(token.split(".")[1]);
    return error as JwtRejected;
  }
  throw new Error("expected the token to be refused");
}

describe("JwtVerifier", () => {
  let rsa: TestKey;
  let ec: TestKey;
  before(async () => {
    rsa = await testKey("RS256");
    ec = await testKey("ES256");
  });

  describe("verify(token) of valid tokens", () => {
    it("accepts RS256 with a PEM public key, and reads subject, scopes and roles", async () => {
      const verifier = new JwtVerifier({ publicKey: rsa.publicPem, issuer: ISSUER, audience: AUDIENCE });
      const token = await signToken(rsa.privateKey, { alg: "RS256", issuer: ISSUER, audience: AUDIENCE, subject: "alice" }, { scope: "kv:read kv:write", roles: ["admin"] });
      const principal = await verifier.verify(token);
      expect(principal).to.include({ subject: "alice", scheme: "jwt" });
      expect(principal.scopes).to.deep.equal(["kv:read", "kv:write"]);
      expect(principal.roles).to.deep.equal(["admin"]);
      expect(principal.claims["iss"]).to.equal(ISSUER);
    });

    it("accepts ES256 from a JWKS document, the key chosen by kid", async () => {
      const verifier = new JwtVerifier({ jwks: { keys: [rsa.publicJwk, ec.publicJwk] }, audience: AUDIENCE });
      const token = await signToken(ec.privateKey, { alg: "ES256", kid: ec.kid, audience: AUDIENCE, subject: "bob" }, { scp: ["kv:read"] });
      expect((await verifier.verify(token)).scopes).to.deep.equal(["kv:read"]);
    });

    it("accepts HS256 with a secret", async () => {
      const verifier = new JwtVerifier({ secret: SECRET, issuer: ISSUER });
      const token = await signToken(secretBytes, { alg: "HS256", issuer: ISSUER, subject: "carol" });
      expect((await verifier.verify(token)).subject).to.equal("carol");
    });
  });

  describe("verify(token) of bad tokens", () => {
    let verifier: JwtVerifier;
    before(() => {
      verifier = new JwtVerifier({ publicKey: rsa.publicPem, issuer: ISSUER, audience: AUDIENCE, clockToleranceSeconds: 5 });
    });
    const sign = (options: Partial<Parameters<typeof signToken>[1]> = {}, claims = {}): Promise<string> =>
      signToken(rsa.privateKey, { alg: "RS256", issuer: ISSUER, audience: AUDIENCE, ...options }, claims);

    it("refuses an expired token (past the tolerance)", async () => {
      expect((await refused(verifier, await sign({ exp: now() - 60 }))).reason).to.equal("ERR_JWT_EXPIRED (exp)");
      // Within the tolerance it still passes.
      await verifier.verify(await sign({ exp: now() - 1 }));
    });

    it("refuses a token that is not yet valid", async () => {
      expect((await refused(verifier, await sign({ nbf: now() + 60 }))).reason).to.equal("ERR_JWT_CLAIM_VALIDATION_FAILED (nbf)");
    });

    it("refuses a wrong issuer and a wrong audience", async () => {
      expect((await refused(verifier, await sign({ issuer: "https://evil.example" }))).reason).to.equal("ERR_JWT_CLAIM_VALIDATION_FAILED (iss)");
      expect((await refused(verifier, await sign({ audience: "other" }))).reason).to.equal("ERR_JWT_CLAIM_VALIDATION_FAILED (aud)");
    });

    it("refuses alg none", async () => {
      const token = unsignedToken({ iss: ISSUER, aud: AUDIENCE, sub: "mallory", exp: now() + 3600 });
      expect((await refused(verifier, token)).unavailable).to.equal(false);
    });

    it("refuses HS256 signed with the RSA public key as the secret (the alg confusion attack)", async () => {
      const token = await signToken(new TextEncoder().encode(rsa.publicPem), { alg: "HS256", issuer: ISSUER, audience: AUDIENCE });
      expect((await refused(verifier, token)).reason).to.equal("ERR_JOSE_ALG_NOT_ALLOWED");
    });

    it("refuses a tampered payload", async () => {
      const [header, , signature] = (await sign({ subject: "alice" }, { scope: "kv:read" })).split(".");
      const forged = Buffer.from(JSON.stringify({ iss: ISSUER, aud: AUDIENCE, sub: "alice", scope: "kv:read kv:write", exp: now() + 3600 })).toString("base64url");
      expect((await refused(verifier, `${header}.${forged}.${signature}`)).reason).to.equal("ERR_JWS_SIGNATURE_VERIFICATION_FAILED");
    });

    it("refuses a token without exp unless requireExpiry is false", async () => {
      const token = await new (await import("jose")).SignJWT({ iss: ISSUER, aud: AUDIENCE }).setProtectedHeader({ alg: "RS256" }).sign(rsa.privateKey);
      expect((await refused(verifier, token)).reason).to.match(/^ERR_JWT_CLAIM_VALIDATION_FAILED/);
      await new JwtVerifier({ publicKey: rsa.publicPem, requireExpiry: false }).verify(token);
    });

    it("refuses what is not a JWT at all", async () => {
      expect((await refused(verifier, "valid_token")).reason).to.equal("ERR_JWS_INVALID");
    });
  });

  describe("new JwtVerifier(options)", () => {
    it("throws for a short secret, two key sources, none, alg none, and an alg the key cannot sign with", () => {
      expect(() => new JwtVerifier({ secret: "short" })).to.throw(TypeError, /at least 32 bytes/);
      expect(() => new JwtVerifier({ secret: SECRET, publicKey: rsa.publicPem } as never)).to.throw(TypeError, /exactly one/);
      expect(() => new JwtVerifier({} as never)).to.throw(TypeError, /exactly one/);
      expect(() => new JwtVerifier({ secret: SECRET, algorithms: ["none"] })).to.throw(TypeError, /does not fit/);
      expect(() => new JwtVerifier({ publicKey: rsa.publicPem, algorithms: ["HS256"] })).to.throw(TypeError, /does not fit/);
      expect(() => new JwtVerifier({ publicKey: ec.publicPem, algorithms: ["RS256"] })).to.throw(TypeError, /does not fit/);
    });

    it("refuses a plain-http JWKS URL unless it is loopback and allowed", () => {
      expect(() => new JwtVerifier({ jwksUrl: "http://id.example/jwks.json" })).to.throw(TypeError, /https/);
      expect(() => new JwtVerifier({ jwksUrl: "http://127.0.0.1:1/jwks.json" })).to.throw(TypeError, /https/);
      expect(() => new JwtVerifier({ jwksUrl: "http://id.example/jwks.json", allowInsecureLoopback: true })).to.throw(TypeError, /https/);
      new JwtVerifier({ jwksUrl: "http://127.0.0.1:1/jwks.json", allowInsecureLoopback: true });
      new JwtVerifier({ jwksUrl: "https://id.example/jwks.json" });
    });

    it("describes its source and checks without the secret", () => {
      const text = new JwtVerifier({ secret: SECRET, issuer: ISSUER }).description;
      expect(text).to.equal(`secret; alg HS256/HS384/HS512; iss ${ISSUER}`);
      expect(text).not.to.include(SECRET);
    });
  });

  describe("cached(token)", () => {
    it("remembers a verified token until its exp, and no longer", async () => {
      let clock = Date.now();
      const verifier = new JwtVerifier({ secret: SECRET, clockToleranceSeconds: 0, now: () => clock });
      const exp = Math.floor(clock / 1000) + 60;
      const token = await signToken(secretBytes, { alg: "HS256", subject: "dave", exp });
      expect(verifier.cached(token)).to.equal(undefined);
      await verifier.verify(token);
      expect(verifier.cached(token)?.subject).to.equal("dave");
      clock = exp * 1000 + 1;
      expect(verifier.cached(token)).to.equal(undefined);
      expect(verifier.cacheSize).to.equal(0);
    });

    it("stays within maxCachedTokens, the oldest leaving first", async () => {
      const verifier = new JwtVerifier({ secret: SECRET, maxCachedTokens: 2 });
      const tokens = await Promise.all(["a", "b", "c"].map((subject) => signToken(secretBytes, { alg: "HS256", subject })));
      for (const token of tokens) await verifier.verify(token);
      expect(verifier.cacheSize).to.equal(2);
      expect(verifier.cached(tokens[0] as string)).to.equal(undefined);
      expect(verifier.cached(tokens[2] as string)?.subject).to.equal("c");
    });

    it("never holds a refused token", async () => {
      const verifier = new JwtVerifier({ secret: SECRET });
      const token = await signToken(secretBytes, { alg: "HS256", exp: now() - 60 });
      await refused(verifier, token);
      expect(verifier.cached(token)).to.equal(undefined);
    });
  });

  describe("a JWKS URL", () => {
    let server: JwksServer;
    afterEach(async () => server?.close());

    it("fetches the set once, then a new kid once (rotation), then serves both from its cache", async () => {
      const first = await testKey("RS256", "k1");
      const second = await testKey("ES256", "k2");
      server = await serveJwks([first.publicJwk]);
      const verifier = new JwtVerifier({ jwksUrl: server.url, allowInsecureLoopback: true, cooldownMs: 0, maxCachedTokens: 0 });
      for (let i = 0; i < 3; i++) await verifier.verify(await signToken(first.privateKey, { alg: "RS256", kid: "k1", subject: `s${i}` }));
      expect(server.hits).to.equal(1);
      server.setKeys([first.publicJwk, second.publicJwk]);
      for (let i = 0; i < 3; i++) await verifier.verify(await signToken(second.privateKey, { alg: "ES256", kid: "k2", subject: `t${i}` }));
      await verifier.verify(await signToken(first.privateKey, { alg: "RS256", kid: "k1" }));
      expect(server.hits).to.equal(2);
    });

    it("does not refetch for an unknown kid within the cooldown", async () => {
      const known = await testKey("RS256", "k1");
      const stranger = await testKey("RS256", "nobody");
      server = await serveJwks([known.publicJwk]);
      const verifier = new JwtVerifier({ jwksUrl: server.url, allowInsecureLoopback: true, cooldownMs: 60_000 });
      await verifier.verify(await signToken(known.privateKey, { alg: "RS256", kid: "k1" }));
      for (let i = 0; i < 5; i++) {
        expect((await refused(verifier, await signToken(stranger.privateKey, { alg: "RS256", kid: "nobody" }))).reason).to.equal("ERR_JWKS_NO_MATCHING_KEY");
      }
      expect(server.hits).to.equal(1);
    });

    it("is unavailable, not the caller's fault, when the endpoint is down", async () => {
      const key = await testKey("RS256", "k1");
      server = await serveJwks([key.publicJwk]);
      server.setDown(true);
      const verifier = new JwtVerifier({ jwksUrl: server.url, allowInsecureLoopback: true });
      const rejection = await refused(verifier, await signToken(key.privateKey, { alg: "RS256", kid: "k1" }));
      expect(rejection).to.include({ unavailable: true, reason: "ERR_JWKS_UNAVAILABLE" });
      await server.close();
      const closed = new JwtVerifier({ jwksUrl: server.url, allowInsecureLoopback: true, timeoutMs: 500 });
      expect((await refused(closed, await signToken(key.privateKey, { alg: "RS256", kid: "k1" }))).unavailable).to.equal(true);
      server = { close: async () => {} } as JwksServer;
    });
  });
});
